import ArgumentParser
import Foundation
import Hypervisor
import Placement
import TetherClient
import TetherModel

/// `tether demo`: Tether's whole job on this one machine, on built-in defaults, told as a
/// timeline: two hosts in network namespaces, real QEMU VMs, a recorded webcam and serial dongle
/// (umockdev); the dongle forwarded to a VM on the other host, the webcam moving that VM to its
/// host, and a container started by runc getting a device through the OCI hook. Then it cleans up.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
                                                    abstract: "Run Tether end to end on this machine (root; QEMU, umockdev, runc) and tell what happened.")

    @Flag(help: "Keep the demo's directory (logs, configurations, journal) afterwards.") var keepFiles = false

    func run() async throws {
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        if let missing = DemoPrerequisites.missing(directory: binaries) {
            FileHandle.standardError.write(Data((missing + "\n").utf8))
            throw ExitCode(1)
        }
        let timeline = Timeline()
        let cluster = try DemoCluster(binaries: binaries)
        var failure: (any Error)?
        do {
            try await story(cluster, timeline)
        } catch {
            failure = error
        }
        cluster.tearDown(keep: keepFiles || failure != nil)
        if let failure {
            timeline.say("FAILED: \(failure); the logs are in \(cluster.directory)")
            throw ExitCode(1)
        }
        timeline.say("cleaned up: daemons, VMs, namespaces" + (keepFiles ? "; files kept in \(cluster.directory)" : " and files"))
    }

    private func story(_ cluster: DemoCluster, _ timeline: Timeline) async throws {
        timeline.say("Tether demo: one machine plays a cluster with a controller and two hosts (\(cluster.directory))")
        try cluster.makeCertificates()
        try cluster.makeNetwork()
        try cluster.writeConfigurations()
        timeline.say("cluster CA and mutual-TLS certificates made; network namespaces: controller, host-a (10.77.1.2), host-b (10.77.2.2)")
        try await cluster.startDaemons()
        let status = try await cluster.registered()
        for host in status.hosts {
            let r = host.registration
            timeline.say("\(r.host) registered: " + r.vms.map { "\($0.name) (\($0.memoryMiB) MiB, \($0.networkMbps) Mbit/s\($0.containers.isEmpty ? "" : ", container \($0.containers.joined(separator: ", "))"))" }.joined(separator: ", ")
                         + (r.devices.isEmpty ? "" : "; devices " + r.devices.map { "\(r.host)/\($0.id) \($0.vendorId ?? "?"):\($0.productId ?? "?") needs \(Rate.bits(($0.periodicBytesPerSecond + $0.bulkBytesPerSecond) * 8))" }.joined(separator: ", ")))
        }

        let client = cluster.client()
        defer { Task { await client.api.close() } }
        try await attach(client, container: "c1", device: "1a86:7523", timeline, what: "the serial dongle on host-b")
        try await showUSB(cluster, host: "host-a", timeline)
        try await attach(client, container: "c1", device: "046d:0825", timeline, what: "the webcam on host-b")
        try await showUSB(cluster, host: "host-b", timeline)

        timeline.say("detach the dongle from c1, so that a container in vm-b can have it")
        for operation in try await client.detach(DetachRequest(container: "c1", device: try DeviceSelector(parsing: "1a86:7523"))).operations {
            _ = try await follow(client, operation.id, timeline)
        }
        try await container(cluster, client, timeline)
        try await DemoStoragePath(directory: cluster.directory, binaries: cluster.binaries, timeline: timeline).run()
    }

    private func attach(_ client: ControllerClient, container: String, device: String, _ timeline: Timeline, what: String) async throws {
        timeline.say("attach \(what) (\(device)) to container \(container): tether attach --container \(container) --device \(device)")
        let response = try await client.attach(AttachRequest(container: container, device: try DeviceSelector(parsing: device)))
        let d = response.decision
        timeline.say("decision: " + PlanText.headline(d) + (d.action == .forward ? " over a mutual-TLS channel" : ""))
        timeline.detail(d.reasons.map { "why: \($0)" })
        guard let operation = response.operation else { throw TetherError(.unsupported, "no operation for \(device): \(d.reasons.joined(separator: "; "))") }
        let finished = try await follow(client, operation.id, timeline)
        guard finished.state == .completed else { throw TetherError(.io, "\(finished.id) \(finished.state.rawValue): \(finished.error ?? "")") }
        timeline.say("done: \(finished.subject) is attached to \(finished.vm) on \(finished.attachment?.vmHost ?? "?") (\(finished.id), journaled)")
    }

    private func follow(_ client: ControllerClient, _ id: String, _ timeline: Timeline) async throws -> OperationRecord {
        try await client.follow(id, until: .now + .seconds(120), late: "\(id) did not finish within 120 s") { step in
            timeline.detail(["\(step.phase == .done ? "step" : "FAILED") \(step.step)" + (step.detail.map { ": \($0)" } ?? "")])
        }
    }

    /// What vm-a's QEMU shows, through its operator QMP socket.
    private func showUSB(_ cluster: DemoCluster, host: String, _ timeline: Timeline) async throws {
        let vm = try await QEMUMachine.adopt(socketPath: "\(cluster.directory)/\(host)/vm-a.monitor.qmp", name: "vm-a")
        defer { Task { await vm.qmp.close() } }
        // Announced: shown at the device's own speed, not as usb-redir's 1.5 Mb/s placeholder.
        let expected = host == "host-a" ? ["tether-vm-a.host-b.1-4"] : ["tether-vm-a.host-b.1-4", "tether-vm-a.host-b.1-3"]
        var devices: [USBDeviceInfo] = []
        for _ in 0..<100 {
            devices = try await vm.usbDevices()
            if expected.allSatisfy({ id in devices.contains { $0.id == id && $0.speed != "1.5 Mb/s" } }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        timeline.say("vm-a runs on \(host) (\(try await vm.status())) and its QEMU lists: "
                     + devices.map { "\($0.id ?? $0.device) at \($0.speed)" }.joined(separator: ", "))
    }

    /// A container in vm-b asks for the dongle by annotation; the hook attaches it and makes its node.
    private func container(_ cluster: DemoCluster, _ client: ControllerClient, _ timeline: Timeline) async throws {
        let bundle = try DemoBundle(directory: "\(cluster.directory)/bundle", cluster: cluster)
        timeline.say("runc run sensor-reader: a busybox container in vm-b, annotated tether.io/devices=1a86:7523, with tether-oci-hook as its createRuntime and poststop hook")
        let run = try DemoBundle.runc(["run", "--bundle", bundle.directory, "sensor-reader-\(cluster.tag)"])
        guard run.status == 0 else { throw TetherError(.io, "runc refused the container: \(run.output)") }
        timeline.detail(run.output.split(separator: "\n").map { "container says: \($0)" })
        let status = try await client.status()
        timeline.say("the container stopped; its poststop hook gave the dongle back (attachments now: "
                     + (status.attachments.map { "\($0.device) -> \($0.vm)" }.joined(separator: ", ").nonEmpty ?? "only the webcam") + ")")
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
