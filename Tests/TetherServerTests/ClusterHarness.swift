import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherSystem
import TetherTestSupport

/// A whole Tether cluster on one machine, with real processes: a controller in its own network
/// namespace, which routes between the namespaces of two agents ("host-a" and "host-b"). host-a
/// runs vm-a (a real QEMU; 128 MiB; a 1 MiB random RAM pattern at 1 MiB; container c1 at
/// 100 Mbit/s); host-b runs vm-b (64 MiB, container c2) under umockdev with the recorded webcam
/// (1-3) and CH340 (1-4), and exports them with the usbredir stand-in. Tests reach the controller by its unix socket and
/// the VMs by their operator QMP sockets, both on the shared filesystem.
final class ClusterHarness: @unchecked Sendable {
    static var canRun: Bool {
        getuid() == 0 && Tools.which("ip") != nil && Tools.hasUMockdev && Tools.which("qemu-system-x86_64") != nil && LocalOutsider.available
    }

    let directory: String
    let tag: String
    /// Two controllers (c1 leads, c2 stands by) on a real etcd in the controller namespace,
    /// instead of one on SQLite; the CLI and the agents are given both.
    let etcdMode: Bool
    var etcd: EtcdTestCluster?
    var standby: BackgroundProcess?
    var socket: String { etcdMode ? "\(directory)/c1.sock,\(directory)/c2.sock" : "\(directory)/tetherd.sock" }
    let network: ClusterNetwork
    let namespaces: [String]
    var controller: BackgroundProcess?
    var agents: [String: BackgroundProcess] = [:]
    let pattern: [UInt8]
    static let patternAddress: UInt64 = 0x10_0000
    /// Hotplug mode: host-b starts with the webcam only, and heartbeats only every 30 s, so that
    /// only hotplug can report a change soon.
    let hotplug: Bool
    var testbed: BackgroundProcess?
    var testbedRoot = ""
    /// host-b's USB devices as its sysfs lists them (what the OCI hook reads there).
    var hostBSysfs: String { "\(testbedRoot)/sys/bus/usb/devices" }

    /// `killAt`: TETHER_FAULT_KILL_AT for the first controller.
    let libusbHotplug: Bool

    /// `libusbHotplug: false`: host-b's agent hears of device changes only from the udev rules' notification.
    init(killAt: String? = nil, hotplug: Bool = false, libusbHotplug: Bool = true, etcd: Bool = false) async throws {
        self.etcdMode = etcd
        self.hotplug = hotplug
        self.libusbHotplug = libusbHotplug
        directory = try Fixtures.temporaryDirectory().path
        tag = String(UUID().uuidString.prefix(5)).lowercased()
        network = ClusterNetwork(tag: tag)
        namespaces = network.namespaces
        var generator = SplitMix64(seed: 0xD15EA5E)
        pattern = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        // Where every agent takes VM images from (agent.imageDirectories): vm-a's RAM pattern travels.
        try FileManager.default.createDirectory(atPath: "\(directory)/images", withIntermediateDirectories: true)
        try Data(pattern).write(to: URL(fileURLWithPath: "\(directory)/images/pattern.bin"))
        let both = try UMockdevRecording.onOneBus(["logitech-c270", "ch340"])
        try both.write(to: URL(fileURLWithPath: "\(directory)/host-b.umockdev"))
        try UMockdevRecording(blocks: both.blocks.filter { !$0.syspath.contains("/usb1/1-4") })
            .write(to: URL(fileURLWithPath: "\(directory)/webcam-only.umockdev"))
        try UMockdevRecording(blocks: both.blocks.filter { $0.syspath.contains("/usb1/1-4") })
            .write(to: URL(fileURLWithPath: "\(directory)/dongle.umockdev"))
        do {
            try makeNetwork()
            if etcd { self.etcd = try await EtcdTestCluster(directory: "\(directory)/etcd", namespace: namespaces[0]) }
            try await makeCertificates()
            try writeConfigurations()
            try await startController(killAt: killAt)
            try await startAgents()
        } catch {
            tearDown()
            throw error
        }
    }

    private func makeNetwork() throws { try network.create() }

    private func makeCertificates() async throws {
        let pki = "\(directory)/pki"
        for arguments in [["certs", "init", "--dir", pki]] + ["controller", "host-a", "host-b"].map({ ["certs", "issue", "--dir", pki, "--name", $0] }) {
            let result = try await ProcessRunner.run(Tools.product("tether"), arguments)
            guard result.status == 0 else { throw TetherError(.io, "tether \(arguments.joined(separator: " ")): \(result.stderr)") }
        }
    }

    private func writeConfigurations() throws {
        let controller = """
            role: controller
            controller:
              socket: \(socket)
              listen: 0.0.0.0:7400
              store: \(directory)/tether.sqlite
              tls: {directory: \(directory)/pki}
              heartbeatTimeoutSeconds: 4
              stepDeadlineSeconds: 20
              metrics: 127.0.0.1:9400
            """
        try controller.write(toFile: "\(directory)/controller.yaml", atomically: true, encoding: .utf8)
        if let etcd {
            for (name, port) in [("c1", 7400), ("c2", 7402)] {
                try controller.replacingOccurrences(of: "socket: \(socket)", with: "name: \(name)\n  socket: \(directory)/\(name).sock")
                    .replacingOccurrences(of: "0.0.0.0:7400", with: "0.0.0.0:\(port)")
                    .replacingOccurrences(of: "127.0.0.1:9400", with: "127.0.0.1:\(port + 2000)")
                    .replacingOccurrences(of: "store: \(directory)/tether.sqlite", with: "store: \(etcd.address)")
                    .write(toFile: "\(directory)/\(name).yaml", atomically: true, encoding: .utf8)
            }
        }
        let vms = [
            "{name: vm-a, memoryMiB: 128, networkMbps: 100, datastore: ds1, containers: [c1], "
                + "memoryImages: [{path: \(directory)/images/pattern.bin, address: \(Self.patternAddress)}]}",
            "{name: vm-b, memoryMiB: 64, networkMbps: 1000, datastore: ds1, containers: [c2]}",
        ]
        for (host, subnet) in [("host-a", 1), ("host-b", 2)] {
            try ClusterNetwork.agentConfiguration(host: host, subnet: subnet, directory: directory, exporter: Tools.product("usbredir-replay"),
                                                  heartbeatSeconds: hotplug && host == "host-b" ? 30 : 0.5, vms: [vms[subnet - 1]],
                                                  extra: ["libusbHotplug: \(libusbHotplug)", "metrics: 127.0.0.1:9401"])
                .replacingOccurrences(of: "controller: 10.77.\(subnet).1:7400\n",
                                      with: etcdMode ? "controller: 10.77.\(subnet).1:7400,10.77.\(subnet).1:7402\n" : "controller: 10.77.\(subnet).1:7400\n")
                .write(toFile: "\(directory)/\(host).yaml", atomically: true, encoding: .utf8)
        }
    }

    func startController(killAt: String? = nil) async throws {
        var command = ["ip", "netns", "exec", namespaces[0], "env"]
        if let killAt { command.append("TETHER_FAULT_KILL_AT=\(killAt)") }
        command += [Tools.product("tetherd"), "--config", "\(directory)/\(etcdMode ? "c1" : "controller").yaml"]
        let process = try await BackgroundProcess("/usr/bin/env", command)
        controller = process
        guard process.waitForOutput(etcdMode ? "leading" : "controller ready", timeout: 60) else {
            throw TetherError(.timeout, "the controller did not start: \(process.output)")
        }
        guard etcdMode else { return }
        let standby = try await BackgroundProcess("/usr/bin/env", ["ip", "netns", "exec", namespaces[0], Tools.product("tetherd"),
                                                                   "--config", "\(directory)/c2.yaml"])
        self.standby = standby
        guard standby.waitForOutput("controller ready", timeout: 60) else {
            throw TetherError(.timeout, "the standby did not start: \(standby.output)")
        }
    }

    /// Both agents die (SIGKILL: their VMs live on) and start again.
    func restartAgents() async throws {
        for host in ["host-a", "host-b"] { kill(agent: host) }
        for (_, agent) in agents { _ = await agent.waitForExit(timeout: 10) }
        try await startAgents()
        for (host, agent) in agents where !agent.waitForOutput("registered with the controller", timeout: 30) {
            throw TetherError(.timeout, "\(host) did not register again: \(agent.output)")
        }
    }

    private func startAgents() async throws {
        agents["host-a"] = try await BackgroundProcess("/usr/bin/env", ["ip", "netns", "exec", namespaces[1], Tools.product("tetherd"),
                                                                  "--config", "\(directory)/host-a.yaml"])
        // host-b's devices live in a usb-testbed that tests can drive (plug, pull) and read
        // (its sysfs, for the OCI hook). It runs under umockdev's preload too: its uevent sender
        // finds devices through /sys.
        if testbed == nil {
            let testbed = try await BackgroundProcess(Tools.which("umockdev-wrapper") ?? "umockdev-wrapper", [Tools.product("usb-testbed")], input: true)
            self.testbed = testbed
            guard let ready = testbed.waitForLine(where: { $0.hasPrefix("ready ") }) else { throw TetherError(.io, "usb-testbed did not start") }
            testbedRoot = String(ready.dropFirst("ready ".count))
            testbed.send("add \(directory)/\(hotplug ? "webcam-only" : "host-b").umockdev")
            guard testbed.waitForLine(where: { $0 == "ok" || $0.hasPrefix("error") }) == "ok" else { throw TetherError(.io, testbed.output) }
        }
        agents["host-b"] = try await BackgroundProcess("/usr/bin/env", [
            "ip", "netns", "exec", namespaces[2], "env", "TETHER_USBREDIR_RECORDING=\(directory)/host-b.umockdev",
            "UMOCKDEV_DIR=\(testbedRoot)", "umockdev-wrapper", Tools.product("tetherd"), "--config", "\(directory)/host-b.yaml"])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let status = try? await status(), status.hosts.count == 2, status.hosts.allSatisfy(\.up),
               status.hosts.first(where: { $0.registration.host == "host-b" })?.registration.devices.count ?? 0 >= (hotplug ? 1 : 2) {
                return
            }
            usleep(100_000)
        }
        throw TetherError(.timeout, "the agents did not register: \(agents.mapValues(\.output))")
    }

    /// GET `path` on the loopback of a daemon's namespace (0: the controller's, 1: host-a's, 2: host-b's).
    func fetch(namespace index: Int, port: Int, path: String) async throws -> String {
        let script = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
        let result = try await ProcessRunner.run("/usr/bin/env", ["ip", "netns", "exec", namespaces[index], "python3", "-c", script,
                                                                  "http://127.0.0.1:\(port)\(path)"], timeout: 20)
        guard result.status == 0 else { throw TetherError(.io, "GET \(path) in \(namespaces[index]): \(result.stderr)") }
        return result.stdout
    }

    /// `tether ARGS --socket SOCKET`.
    func tether(_ arguments: [String], timeout: TimeInterval = 120) async throws -> ProcessResult {
        try await ProcessRunner.run(Tools.product("tether"), arguments + ["--socket", socket], timeout: timeout)
    }

    func status() async throws -> ClusterStatus {
        let result = try await tether(["status", "--json"], timeout: 10)
        guard result.status == 0 else { throw TetherError(.io, "tether status: \(result.stderr)") }
        return try APIJSON.decoder().decode(ClusterStatus.self, from: Data(result.stdout.utf8))
    }

    /// Waits until no operation is in flight, and returns the last status.
    func settled(timeout: TimeInterval = 120) async throws -> ClusterStatus {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = try? await status(), status.operations.isEmpty { return status }
            usleep(100_000)
        }
        throw TetherError(.timeout, "operations still in flight: \(try await status().operations.map(\.id))")
    }

    /// vm-a's operator monitor on `host`, if a QEMU for it runs there.
    func monitor(_ host: String) async -> QEMUMachine? {
        let path = "\(directory)/\(host)/vm-a.monitor.qmp"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try? await QEMUMachine.adopt(socketPath: path, name: "vm-a@\(host)", timeout: .seconds(2))
    }

    /// Waits (up to 10 s) until the VM shows the usb-redir device `id` with an address: its peer
    /// has announced the device through the chardev. Returns what the VM last showed.
    static func announced(_ id: String, in vm: QEMUMachine) async throws -> (USBDeviceInfo?, [USBDeviceInfo]) {
        var seen: [USBDeviceInfo] = []
        for _ in 0..<100 {
            seen = try await vm.usbDevices()
            if let device = seen.first(where: { $0.id == id && $0.isAnnounced }) { return (device, seen) }
            try await Task.sleep(for: .milliseconds(100))
        }
        return (nil, seen)
    }

    /// Live usbredir-replay processes on this machine (tests run one cluster at a time).
    static func runningExporters() -> Int {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.filter { $0.allSatisfy(\.isNumber) } ?? []
        return pids.filter { pid in
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == "usbredir-replay",
                  let pid = Int32(pid) else { return false }
            // A zombie has died already.
            return ProcessStat(pid: pid)?.isAlive ?? false
        }.count
    }

    /// How many QEMU processes of this cluster run vm-a.
    func qemuProcesses() async throws -> Int {
        let result = try await ProcessRunner.run("/usr/bin/env", ["pgrep", "-f", "qmp unix:\(directory)/.*vm-a.qmp"])
        return result.stdout.split(separator: "\n").count
    }

    /// Plugs the CH340 into host-b (hotplug mode): the device appears, then (unless `uevent` is
    /// false, when libusb cannot notice) its uevent.
    func plugDongle(uevent: Bool = true) throws {
        testbed?.send("add \(directory)/dongle.umockdev")
        guard testbed?.waitForLine(where: { $0 == "ok" || $0.hasPrefix("error") }) == "ok" else { throw TetherError(.io, testbed?.output ?? "") }
        if uevent { testbed?.send("uevent \(Self.dongleSyspath) add") }
    }

    /// Pulls it out again: its uevent, then the device goes.
    func pullDongle() {
        testbed?.send("uevent \(Self.dongleSyspath) remove")
        testbed?.send("remove \(Self.dongleSyspath)")
    }

    static let dongleSyspath = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-4"

    /// host-b's devices as the controller has them.
    func hostBDevices() async throws -> [String] {
        try await status().hosts.first { $0.registration.host == "host-b" }?.registration.devices.map(\.id) ?? []
    }

    /// SIGKILL to a host's tetherd itself (not to the env and ip processes that started it).
    func kill(agent host: String) {
        _ = try? ChildProcess.run("/usr/bin/env", ["pkill", "-9", "-f", "tetherd --config \(directory)/\(host).yaml"])
    }

    /// Everything dies at once (SIGKILL): what is under test ended before this, and a graceful
    /// stop would only wait for idle keep-alive connections. Synchronous (it runs in `defer`),
    /// so its pkill is a short run on TetherSystem's own posix_spawn wrapper.
    func tearDown() {
        controller?.kill()
        standby?.kill()
        for (_, agent) in agents { agent.kill() }
        testbed?.send("quit")
        testbed?.kill()
        if ProcessInfo.processInfo.environment["TETHER_KEEP_CLUSTER"] != nil {
            try? controller?.output.write(toFile: "\(directory)/controller.log", atomically: true, encoding: .utf8)
            try? standby?.output.write(toFile: "\(directory)/standby.log", atomically: true, encoding: .utf8)
            for (host, agent) in agents { try? agent.output.write(toFile: "\(directory)/\(host).log", atomically: true, encoding: .utf8) }
        }
        _ = try? ChildProcess.run("/usr/bin/env", ["pkill", "-9", "-f", directory])
        network.remove()
        // TETHER_KEEP_CLUSTER=1 keeps the logs, configurations and QEMU logs for a post-mortem.
        if ProcessInfo.processInfo.environment["TETHER_KEEP_CLUSTER"] == nil { try? FileManager.default.removeItem(atPath: directory) }
    }
}
