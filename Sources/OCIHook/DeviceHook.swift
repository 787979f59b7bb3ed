import Foundation
import TetherClient
import TetherModel

/// The OCI runtime hook: `createRuntime` (or `prestart`) gives a container the devices its
/// `tether.io/devices` annotation asks for; `poststop` takes them back. Without the annotation it
/// returns at once, having done nothing. Any failure undoes what it did (asks the controller to
/// detach) and is one line for the runtime to show, so that the container does not start.
public struct DeviceHook: Sendable {
    public enum Stage: String, Sendable, CaseIterable { case create, poststop }

    public var socket: String
    /// The VM the containers of this runtime run in (each VM's hook configuration names its own).
    public var vm: String?
    public var timeout: Duration
    /// Where this host's USB devices are listed (a test points it elsewhere).
    public var sysfs: String
    /// The program that watches a container to its end (`tether-oci-attach`, which runs this).
    public var watcher: String?
    /// Devices asked for by the hook's own arguments (`--devices`, as a CDI spec's hooks pass
    /// them: a CDI device adds no annotation), besides those of the annotation.
    public var devices: String?

    public init(socket: String, vm: String?, timeout: Duration = .seconds(60), sysfs: String = "/sys/bus/usb/devices") {
        self.socket = socket
        self.vm = vm
        self.timeout = timeout
        self.sysfs = sysfs
    }

    /// Runs the hook on the state the runtime gave; throws one clear error.
    public func run(_ stage: Stage, state: ContainerState) async throws(TetherError) {
        var selectors = try DeviceAnnotation.selectors(in: state.annotations)
        if let devices {
            for selector in try DeviceAnnotation.selectors(in: [DeviceAnnotation.devices: devices]) where !selectors.contains(selector) {
                selectors.append(selector)
            }
        }
        guard !selectors.isEmpty else { return }
        // Several sockets, comma-separated: controllers on this machine, one of which leads.
        let client = ControllerClient(APIClient(servers: socket.split(separator: ",").map { .unixSocket(String($0)) },
                                                timeout: .seconds(Int64(max(1, timeout.components.seconds)))))
        defer { Task { await client.api.close() } }
        switch stage {
        case .poststop:
            try await detach(state.container, client)
        case .create:
            do {
                try await give(selectors, to: state, client)
                // Asked through the hook's arguments (a CDI spec): its poststop hook may never run.
                if devices != nil, let pid = state.pid, let program = watcher {
                    try ContainerWatch(pid: pid, container: state.container, socket: socket, timeout: timeout).leaveBehind(program: program)
                }
            } catch {
                try? await detach(state.container, client)
                throw error
            }
        }
    }

    private func give(_ selectors: [DeviceSelector], to state: ContainerState, _ client: ControllerClient) async throws(TetherError) {
        guard let pid = state.pid, pid > 0 else { throw TetherError(.invalidArgument, "the container state has no pid: run this as a createRuntime or prestart hook") }
        let vm = state.annotations[DeviceAnnotation.vm] ?? vm
        let deadline = ContinuousClock.now + timeout
        var attached: [DeviceRef] = []
        for selector in selectors {
            let response = try await client.attach(AttachRequest(container: state.container, device: selector, vm: vm))
            let decision = response.decision
            guard decision.action != .reject else {
                throw TetherError(.unsupported, "\(selector) cannot be given to \(state.container): \(decision.reasons.last ?? "rejected")")
            }
            if let operation = response.operation {
                let finished = try await client.follow(operation.id, until: deadline, late: "\(operation.id) did not finish within \(timeout)")
                guard finished.state == .completed else {
                    throw TetherError(.io, "attaching \(selector) failed: \(finished.error ?? finished.state.rawValue)")
                }
            }
            guard let ref = DeviceRef(decision.device) else { throw TetherError(.internalError, "the controller named no device for \(selector)") }
            attached.append(ref)
        }
        let rootfs = try ContainerDevices.rootfs(bundle: state.bundle)
        let registered = try await client.status().hosts.flatMap { host in host.registration.devices.map { (DeviceRef(host: host.registration.host, id: $0.id), $0) } }
        for ref in attached {
            guard let device = registered.first(where: { $0.0 == ref })?.1, let vendor = device.vendorId, let product = device.productId else {
                throw TetherError(.notFound, "\(ref) is attached but no longer registered")
            }
            let local = try await present(vendor: vendor, product: product, serial: device.serial, until: deadline, ref: ref)
            try ContainerDevices.expose(local, pid: pid, rootfs: rootfs)
        }
    }

    /// Waits for the device to show up on this host (in a VM: after usb-redir announced it).
    private func present(vendor: String, product: String, serial: String?, until deadline: ContinuousClock.Instant,
                         ref: DeviceRef) async throws(TetherError) -> LocalUSBDevice {
        while true {
            if let device = LocalUSBDevice.find(vendorId: vendor, productId: product, serial: serial, root: sysfs) { return device }
            guard ContinuousClock.now < deadline else {
                throw TetherError(.timeout, "\(ref) (\(vendor):\(product)) did not appear on this host within \(timeout)")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Takes the container's devices back; none attached is not an error.
    private func detach(_ container: String, _ client: ControllerClient) async throws(TetherError) {
        let reply: DetachReply
        do {
            reply = try await client.detach(DetachRequest(container: container))
        } catch where error.code == .notFound {
            return
        }
        let deadline = ContinuousClock.now + timeout
        for operation in reply.operations {
            _ = try? await client.follow(operation.id, until: deadline, late: "\(operation.id) did not finish within \(timeout)")
        }
    }
}
