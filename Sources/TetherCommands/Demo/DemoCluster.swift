import Channel
import Foundation
import TetherClient
import Lab
import TetherModel
import TetherSystem

/// The demo's cluster on this machine: a controller in a network namespace of its own, which
/// routes between two hosts' namespaces; host-a runs vm-a (container c1), host-b runs vm-b and
/// has the recorded webcam and dongle (umockdev), exported with usbredir-replay. Everything lives
/// under one directory and goes with `tearDown`.
final class DemoCluster {
    let directory: String
    let binaries: String
    let tag = String(UUID().uuidString.prefix(5)).lowercased()
    var network: ClusterNetwork { ClusterNetwork(tag: tag) }
    var namespaces: [String] { network.namespaces }
    var socket: String { "\(directory)/tetherd.sock" }
    var recording: String { "\(directory)/host-b.umockdev" }
    private var processes: [ChildProcess] = []

    init(binaries: String) throws {
        self.binaries = binaries
        directory = NSTemporaryDirectory() + "tether-demo-\(tag)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try DemoRecording.hostB.write(toFile: recording, atomically: true, encoding: .utf8)
    }

    func client() -> ControllerClient { ControllerClient(APIClient(.unixSocket(socket))) }

    func makeNetwork() throws { try network.create() }

    func makeCertificates() throws {
        _ = try ClusterCA.initialize(in: "\(directory)/pki")
        for name in ["controller", "host-a", "host-b"] { _ = try ClusterCA.issue(name: name, in: "\(directory)/pki") }
    }

    func writeConfigurations() throws {
        try """
            role: controller
            controller:
              socket: \(socket)
              listen: 0.0.0.0:7400
              store: \(directory)/tether.sqlite
              tls: {directory: \(directory)/pki}
            """.write(toFile: "\(directory)/controller.yaml", atomically: true, encoding: .utf8)
        for (host, subnet, vm) in [("host-a", 1, "{name: vm-a, memoryMiB: 128, networkMbps: 100, datastore: ds1, containers: [c1]}"),
                                   ("host-b", 2, "{name: vm-b, memoryMiB: 64, networkMbps: 1000, datastore: ds1}")] {
            try ClusterNetwork.agentConfiguration(host: host, subnet: subnet, directory: directory, exporter: "\(binaries)/usbredir-replay",
                                                  heartbeatSeconds: 1, vms: [vm])
                .write(toFile: "\(directory)/\(host).yaml", atomically: true, encoding: .utf8)
        }
    }

    /// Runs `command` in `namespace`, its output in DIR/NAME.log.
    private func start(_ name: String, in namespace: String, _ command: [String]) async throws {
        let log = open("\(directory)/\(name).log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(log) }
        processes.append(try await ChildProcess.start(try Executable.find("ip", package: "iproute2"), ["netns", "exec", namespace] + command, output: log))
    }

    func startDaemons() async throws {
        try await start("controller", in: namespaces[0], ["\(binaries)/tetherd", "--config", "\(directory)/controller.yaml"])
        try await start("host-a", in: namespaces[1], ["\(binaries)/tetherd", "--config", "\(directory)/host-a.yaml"])
        try await start("host-b", in: namespaces[2], ["env", "TETHER_USBREDIR_RECORDING=\(recording)",
                                               try Executable.find("umockdev-run", package: "umockdev"), "-d", recording, "--",
                                               "\(binaries)/tetherd", "--config", "\(directory)/host-b.yaml"])
    }

    /// Waits until both hosts are registered with their VMs and host-b's two devices.
    func registered(timeout: Duration = .seconds(60)) async throws -> ClusterStatus {
        let client = client()
        defer { Task { await client.api.close() } }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try? await client.status(), status.hosts.count == 2, status.hosts.allSatisfy({ $0.up && !$0.registration.vms.isEmpty }),
               status.hosts.last?.registration.devices.count == 2 {
                return status
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TetherError(.timeout, "the agents did not register within \(timeout); logs are in \(directory)")
    }

    /// Stops everything (SIGKILL to every process of the demo, QEMU included) and removes the
    /// namespaces and, unless `keep`, the directory.
    func tearDown(keep: Bool) {
        for process in processes { process.signal(SIGKILL) }
        if let pkill = try? Executable.find("pkill", package: "procps") { _ = try? ChildProcess.run(pkill, ["-9", "-f", directory]) }
        network.remove()
        if !keep { try? FileManager.default.removeItem(atPath: directory) }
    }
}
