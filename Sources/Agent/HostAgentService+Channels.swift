import Channel
import Foundation
import Hypervisor
import Logging
import TetherModel

/// The agent's devices and channels: exports (an exporter, behind a TLS relay unless the VM is
/// here), and the VM's ends of channels (a relay end and a usb-redir device).
extension HostAgentService {
    public func export(_ request: ExportRequest) async throws(TetherError) -> HostPort {
        guard let device = devices.first(where: { $0.id == request.device }) else {
            throw TetherError(.notFound, "\(settings.host) has no device \(request.device) plugged in")
        }
        let selector = Self.selector(device)
        if let existing = exports[request.session] {
            // The exporter restarting between clients (usbredirect serves one, then exits) is no
            // reason to rebuild: only a new address of the device is.
            if existing.selector == selector {
                // Asked again, perhaps for the VM's next host: that host may take the session over.
                existing.relay?.permit(request.allow)
                return existing.address
            }
            // The device was pulled and plugged in again (a new address): a fresh export, and the
            // VM's end is pointed at it.
            await stopExport(session: request.session)
        }
        let port = try LocalPorts.free()
        let logger = self.logger
        let record = exporterRecord
        let supervisor = ExporterSupervisor(device: selector, listen: "127.0.0.1:\(port)", program: settings.exporterProgram,
                                            started: { record.note($0) }) { line in
            logger.info("\(line)", metadata: ["session": "\(request.session)"])
        }
        do { try supervisor.start() } catch {
            throw TetherError(.io, "cannot start the exporter for \(request.device)", cause: "\(error)")
        }
        guard await LocalPorts.waitListening(port, within: .seconds(10)) else {
            await supervisor.stop()
            let why = supervisor.exits.last.map { "it exited with status \($0.status): \($0.output)" } ?? "it did not listen"
            throw TetherError(.io, "the exporter for \(request.device) did not start on port \(port): \(why)")
        }
        var export = Export(device: request.device, selector: selector, supervisor: supervisor, relay: nil, address: HostPort(host: "127.0.0.1", port: port))
        if !request.local {
            do {
                let relay = try await ChannelRelay.start(.serve, listenHost: settings.address(on: .vm), listenPort: 0, targetHost: "127.0.0.1",
                                                         targetPort: port, identity: identity, allow: Set(request.allow),
                                                         meter: ByteMeter(window: Self.trafficWindow)) { line in
                    logger.info("\(line)", metadata: ["session": "\(request.session)"])
                }
                export.relay = relay
                export.address = HostPort(host: settings.address(on: .vm), port: relay.port)
            } catch {
                await supervisor.stop()
                throw TetherError(.io, "cannot start the relay for \(request.device)", cause: "\(error)")
            }
        }
        exports[request.session] = export
        logger.info("exported device", metadata: ["device": "\(request.device)", "at": "\(export.address)"])
        return export.address
    }

    /// A relay's rate is over its last 300 ms: a stream that starts is seen at its rate within
    /// them (the observed figure is the peak of these, so short dips do not matter).
    static let trafficWindow: Duration = .milliseconds(300)

    /// What each forwarded device's relay carried over the last 300 ms, both ways: the
    /// controller's observed figure. A device exported to its own host's VM has no relay, and its
    /// traffic never meets the network.
    public func traffic() -> [DeviceRate] {
        var rates: [String: Double] = [:]
        for export in exports.values {
            guard let meter = export.relay?.meter else { continue }
            rates[export.device, default: 0] += meter.throughput
        }
        return rates.map { DeviceRate(device: $0.key, bytesPerSecond: Int($0.value.rounded())) }.sorted { $0.device < $1.device }
    }

    /// usbredirect names a device by BUS-ADDRESS (or VID:PID, ambiguous with two alike); the
    /// address changes at every replug.
    static func selector(_ device: RegisteredDevice) -> String {
        device.bus.flatMap { bus in device.address.map { "\(bus)-\($0)" } } ?? "\(device.vendorId ?? "0000"):\(device.productId ?? "0000")"
    }

    /// Exports whose device left this host (or came back at another address): their exporter
    /// could only fail, restarted with backoff. The controller gives the device again when it is back.
    func dropExportsOfDevicesGone(_ present: [RegisteredDevice]) {
        for (session, export) in exports where !present.contains(where: { $0.id == export.device && Self.selector($0) == export.selector }) {
            logger.notice("the exported device left this host; stopping its export", metadata: ["session": "\(session)", "device": "\(export.device)"])
            stopExportInBackground(session: session)
        }
    }

    /// How long an export's stop may take before it is reported as stuck: SIGTERM's grace (2 s),
    /// SIGKILL, and time to spare.
    static let exportStopWarning: Duration = .seconds(10)

    /// Stops an export without waiting for it: the export is gone from this host's books at once
    /// (the next registration lists it no more), its exporter and relay stop in a task of their
    /// own. The heartbeat loop noticed the unplug and must go on beating: an exporter takes its
    /// SIGTERM grace when it ignores SIGTERM, and one blocked in the kernel on a device that was
    /// yanked (usbfs) outlives even SIGKILL until the kernel lets go; a heartbeat waiting on it
    /// would have this host called down and its VMs moved.
    func stopExportInBackground(session: String) {
        guard let export = exports.removeValue(forKey: session) else { return }
        exportStopsBegun += 1
        let number = exportStopsBegun
        exportsStopping[number] = Task { await self.finishStopping(export, session: session, number: number) }
    }

    private func finishStopping(_ export: Export, session: String, number: Int) async {
        let logger = self.logger
        let watch = Task {
            try await Task.sleep(for: Self.exportStopWarning)
            logger.warning("the exporter of a device that left has not exited \(Self.exportStopWarning) after it was told to stop; it may be blocked in the kernel on the device",
                           metadata: ["session": "\(session)", "device": "\(export.device)"])
        }
        await export.relay?.stop()
        await export.supervisor.stop()
        watch.cancel()
        exportsStopping[number] = nil
        logger.info("stopped export", metadata: ["session": "\(session)"])
    }

    /// The exports being stopped in the background, until they have or `limit` has passed.
    func awaitExportStops(within limit: Duration) async {
        let stops = Array(exportsStopping.values)
        guard !stops.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for stop in stops { await stop.value } }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
        if !exportsStopping.isEmpty {
            logger.warning("\(exportsStopping.count) exporter(s) still stopping after \(limit); left to exit on their own")
        }
    }

    public func stopExport(session: String) async {
        guard let export = exports.removeValue(forKey: session) else { return }
        await export.relay?.stop()
        await export.supervisor.stop()
        logger.info("stopped export", metadata: ["session": "\(session)"])
    }

    /// QEMU ids: a letter first, then letters, digits, '-', '.', '_'.
    static func redirectionID(_ session: String) -> String {
        "tether-" + session.replacingOccurrences(of: "/", with: ".")
    }

    public func openChannel(_ request: ChannelRequest) async throws(TetherError) {
        guard let vm = vms[request.vm] else { throw TetherError(.notFound, "\(settings.host) does not run \(request.vm)") }
        let id = Self.redirectionID(request.session)
        var present = (try? await vm.machine.usbRedirectionIDs()) ?? []
        if let known = channels[request.session], known.from != request.from {
            // The device's host exports it anew (it came back, or that agent restarted): the relay
            // end is started again on the same socket, where QEMU dials again within a second.
            await known.relay?.stop()
            channels[request.session] = nil
        }
        if request.local, channels[request.session] == nil, present.contains(id) {
            // QEMU dials the exporter itself here, at an address that may have changed (the device
            // came back, or this agent restarted): the usb-redir device is added again.
            do { try await vm.machine.detachUSBRedirection(id: id) } catch {
                throw TetherError(.io, "cannot remove usb-redir \(id) from \(request.vm) to point it at \(request.from)", cause: "\(error)")
            }
            present.removeAll { $0 == id }
        }
        if channels[request.session] != nil, present.contains(id) { return }
        var end = channels[request.session]
            ?? ChannelEnd(vm: request.vm, relay: nil, redirection: id, from: request.from, deviceHost: request.deviceHost)
        if !request.local, end.relay == nil {
            end.relay = try await startRelayEnd(session: request.session, to: request.from, deviceHost: request.deviceHost)
        }
        channels[request.session] = end
        if !present.contains(id) {
            do {
                if let socket = end.relay?.socketPath {
                    try await vm.machine.attachUSBRedirection(id: id, socketPath: socket)
                } else {
                    try await vm.machine.attachUSBRedirection(id: id, host: request.from.host, port: request.from.port)
                }
            } catch {
                throw TetherError(.io, "cannot add usb-redir \(id) to \(request.vm)", cause: "\(error)")
            }
        }
        logger.info("opened channel", metadata: ["vm": "\(request.vm)", "device": "\(id)", "from": "\(end.relay?.socketPath ?? "\(request.from)")"])
    }

    /// The VM's end of a channel: a relay carrying the session to the device host's serve end
    /// over mutual TLS. It listens on a unix socket in a directory only this agent's user can
    /// open (QEMU runs as that user): a loopback port would let any local user reach the device.
    func startRelayEnd(session: String, to address: HostPort, deviceHost: String) async throws(TetherError) -> ChannelRelay {
        let logger = self.logger
        let path = "\(settings.stateDirectory)/channels/\(Self.redirectionID(session)).sock"
        do {
            return try await ChannelRelay.start(.connect, listen: .unix(path: path), targetHost: address.host,
                                                targetPort: address.port, identity: identity, allow: [deviceHost], session: session) { line in
                logger.info("\(line)", metadata: ["session": "\(session)"])
            }
        } catch {
            throw TetherError(.io, "cannot start the relay to \(address)", cause: "\(error)")
        }
    }

    public func closeChannel(session: String, vm: String?) async throws(TetherError) {
        let end = channels.removeValue(forKey: session)
        let id = Self.redirectionID(session)
        if let name = vm ?? end?.vm, let vm = vms[name], ((try? await vm.machine.usbRedirectionIDs()) ?? []).contains(id) {
            do { try await vm.machine.detachUSBRedirection(id: id) } catch {
                throw TetherError(.io, "cannot remove usb-redir \(id) from \(name)", cause: "\(error)")
            }
        }
        await end?.relay?.stop()
        logger.info("closed channel", metadata: ["session": "\(session)"])
    }

    func channelEnds(of vm: String) -> [ChannelEndState] {
        channels.filter { $0.value.vm == vm }.compactMap { session, end in
            end.relay.map { _ in ChannelEndState(session: session, from: end.from, deviceHost: end.deviceHost) }
        }.sorted { $0.session < $1.session }
    }

    /// Stops the relay ends that fed a VM which is no longer here.
    func dropChannels(of vm: String) async {
        for (session, end) in channels where end.vm == vm {
            channels[session] = nil
            await end.relay?.stop()
        }
    }
}
