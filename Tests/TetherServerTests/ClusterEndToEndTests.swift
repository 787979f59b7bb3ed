import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// `tether attach` doing the real thing: a controller and two agents as real processes in their
/// own network namespaces, real QEMU, recorded devices through umockdev, the relay over mutual
/// TLS; and the controller killed with SIGKILL at every journaled step, then started again.
@Suite(.serialized, .requires(ClusterHarness.canRun, "needs root, iproute2, umockdev, QEMU, setpriv and python3 (CI has them all)"))
struct ClusterEndToEndTests {
    @Test func theSerialDongleIsForwardedToTheVMThroughTheRelayAndTakenBack() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let attach = try await cluster.tether(["attach", "--container", "c1", "--device", "1a86:7523"])
        #expect(attach.status == 0, "\(attach.stdout)\(attach.stderr)")
        #expect(attach.stdout.contains("FORWARD host-b/1-4 to vm-a on host-a"), "\(attach.stdout)")
        #expect(attach.stdout.contains("attached host-b/1-4 to vm-a on host-a"), "\(attach.stdout)")

        let vm = try #require(await cluster.monitor("host-a"))
        let id = "tether-vm-a.host-b.1-4"
        let (dongle, seen) = try await ClusterHarness.announced(id, in: vm)
        #expect(dongle?.speed == "12 Mb/s", "QEMU on host-a shows the dongle announced through the relay: \(seen)")
        let status = try await cluster.status()
        #expect(status.attachments.map(\.id) == ["vm-a/host-b/1-4"])
        #expect(status.attachments.first?.mode == .forward)
        #expect(cluster.agents["host-b"]?.output.contains("admitted") == true, "the relay on host-b admitted host-a over TLS")
        // host-a's end of the channel is a unix socket only QEMU's user can open, not a loopback port.
        let socket = "\(cluster.directory)/host-a/channels/\(id).sock"
        let modes = try [socket, (socket as NSString).deletingLastPathComponent].map {
            (try FileManager.default.attributesOfItem(atPath: $0)[.posixPermissions] as? Int) ?? -1
        }
        #expect(modes == [0o600, 0o700], "socket and directory modes")
        let outsider = try await LocalOutsider.connect("unix:\(socket)")
        #expect(outsider.status == 3 && outsider.stdout.contains("Permission denied"), "another local user is refused: \(outsider.stdout)")

        let detach = try await cluster.tether(["detach", "--container", "c1"])
        #expect(detach.status == 0, "\(detach.stderr)")
        #expect(try await vm.usbDevices().allSatisfy { $0.id != id }, "the device left the VM")
        #expect(try await cluster.status().attachments.isEmpty)
        await vm.qmp.close()

        // host-b's agent dies: the controller marks it down after its heartbeat timeout.
        cluster.kill(agent: "host-b")
        var down = false
        for _ in 0..<100 where !down {
            down = (try? await cluster.status())?.hosts.first { $0.registration.host == "host-b" }?.up == false
            if !down { usleep(100_000) }
        }
        #expect(down, "host-b is down once it stops heartbeating")
    }

    @Test func theWebcamMovesTheVMToItsHostWithItsRAMIntactAndAForwardedDongleFollows() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let forward = try await cluster.tether(["attach", "--container", "c1", "--device", "1a86:7523"])
        #expect(forward.status == 0, "\(forward.stdout)\(forward.stderr)")
        let attach = try await cluster.tether(["attach", "--container", "c1", "--device", "046d:0825"])
        #expect(attach.status == 0, "\(attach.stdout)\(attach.stderr)")
        #expect(attach.stdout.contains("MIGRATE vm-a from host-a to host-b"), "\(attach.stdout)")
        #expect(attach.stdout.contains("with vm-a/host-b/1-4 following it"), "\(attach.stdout)")
        #expect(attach.stdout.contains("done migrate: migrated to host-b"), "\(attach.stdout)")

        #expect(await cluster.monitor("host-a") == nil, "no QEMU for vm-a is left on host-a")
        #expect(try await cluster.qemuProcesses() == 1, "vm-a runs exactly once")
        let vm = try #require(await cluster.monitor("host-b"))
        #expect(try await vm.status() == .running)
        let after = "\(cluster.directory)/after.bin"
        try await vm.saveGuestMemory(address: ClusterHarness.patternAddress, size: cluster.pattern.count, to: after)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: after))) == cluster.pattern, "the RAM pattern crossed intact")
        let (webcam, seen) = try await ClusterHarness.announced("tether-vm-a.host-b.1-3", in: vm)
        #expect(webcam?.speed == "480 Mb/s", "the webcam is attached on host-b: \(seen)")
        let (dongle, _) = try await ClusterHarness.announced("tether-vm-a.host-b.1-4", in: vm)
        #expect(dongle?.speed == "12 Mb/s", "the forwarded dongle followed the VM: \(seen)")
        await vm.qmp.close()
        let status = try await cluster.status()
        #expect(status.attachments.map(\.vmHost) == ["host-b", "host-b"], "\(status.attachments)")
        // host-b registers the VM that arrived at its next heartbeat (every 0.5 s here).
        var onHostB: [String] = []
        for _ in 0..<50 where onHostB != ["vm-a", "vm-b"] {
            onHostB = try await cluster.status().hosts.first { $0.registration.host == "host-b" }?.registration.vms.map(\.name) ?? []
            if onHostB != ["vm-a", "vm-b"] { usleep(100_000) }
        }
        #expect(onHostB == ["vm-a", "vm-b"], "host-b registered the VM that arrived")
        #expect(cluster.agents["host-b"]?.output.contains("resumed session vm-a/host-b/1-4") == true,
                "the device's stream was resumed, not restarted: \(cluster.agents["host-b"]?.output.suffix(2000) ?? "")")

        // Both agents restart: host-b adopts the VM that arrived; host-a does not start its
        // configured vm-a again, since it moved away.
        #expect(ClusterHarness.runningExporters() == 2, "host-b exports the webcam and the dongle")
        try await cluster.restartAgents()
        #expect(ClusterHarness.runningExporters() == 0, "the killed agent's exporters died with it, none is orphaned")
        #expect(try await cluster.qemuProcesses() == 1, "vm-a still runs exactly once")
        #expect(cluster.agents["host-b"]?.output.contains("adopted a running VM") == true)
        #expect(cluster.agents["host-a"]?.output.contains("not starting a VM that moved away") == true, "\(cluster.agents["host-a"]?.output ?? "")")
        let restarted = try await cluster.status()
        #expect(restarted.hosts.map { $0.registration.vms.map(\.name) } == [[], ["vm-a", "vm-b"]])

        let detach = try await cluster.tether(["detach", "--container", "c1"])
        #expect(detach.status == 0, "\(detach.stdout)\(detach.stderr)")
        #expect(try await cluster.status().attachments.isEmpty)
    }

    @Test func aDevicePluggedIntoAHostReachesTheControllerAtOnce() async throws {
        let cluster = try await ClusterHarness(hotplug: true)
        defer { cluster.tearDown() }
        #expect(try await cluster.hostBDevices() == ["1-3"])
        // host-b heartbeats every 30 s: within 10 s, only libusb hotplug can tell the agent.
        try cluster.plugDongle()
        var devices: [String] = []
        for _ in 0..<100 where devices.count < 2 {
            devices = try await cluster.hostBDevices()
            if devices.count < 2 { usleep(100_000) }
        }
        #expect(devices == ["1-3", "1-4"], "the dongle was registered on arrival: \(cluster.agents["host-b"]?.output.suffix(1500) ?? "")")
        let dryRun = try await cluster.tether(["attach", "--container", "c1", "--device", "1a86:7523", "--dry-run"])
        #expect(dryRun.stdout.contains("FORWARD host-b/1-4"), "\(dryRun.stdout)\(dryRun.stderr)")
        cluster.pullDongle()
        for _ in 0..<100 where devices.count > 1 {
            devices = try await cluster.hostBDevices()
            if devices.count > 1 { usleep(100_000) }
        }
        #expect(devices == ["1-3"], "and forgotten when it left")
    }

    @Test func theUdevRulesNotificationWakesTheAgent() async throws {
        let cluster = try await ClusterHarness(hotplug: true, libusbHotplug: false)
        defer { cluster.tearDown() }
        // libusb hotplug is off on host-b, which heartbeats only every 30 s: only the rules'
        // notification can make it look again within 10 s.
        try cluster.plugDongle()
        let notify = try await ProcessRunner.run(Tools.product("tether"), ["notify-agent", "--event", "add", "--devpath", "/devices/pci0000:00/0000:00:14.0/usb1/1-4",
                                                                     "--socket", "\(cluster.directory)/host-b-events.sock"])
        #expect(notify.status == 0)
        var devices: [String] = []
        for _ in 0..<100 where devices.count < 2 {
            devices = try await cluster.hostBDevices()
            if devices.count < 2 { usleep(100_000) }
        }
        #expect(devices == ["1-3", "1-4"], "the notification made host-b look again: \(cluster.agents["host-b"]?.output.suffix(1500) ?? "")")
    }

    struct KillPoint: Sendable, CustomTestStringConvertible {
        var device: String
        var at: String
        var testDescription: String { "\(device == "046d:0825" ? "migrate" : "forward"), killed at \(at)" }
    }

    static let killPoints: [KillPoint] =
        ["export:started", "export:done", "channel:started", "channel:done"].map { KillPoint(device: "1a86:7523", at: $0) }
        + ["prepare-incoming:started", "prepare-incoming:done", "migrate:started", "migrate:done", "release-source:started",
           "release-source:done", "export:started", "export:done", "channel:started", "channel:done"].map { KillPoint(device: "046d:0825", at: $0) }

    @Test(arguments: killPoints)
    func aControllerKilledAtAnyStepFinishesTheJobOnRestartAndTheVMRunsOnce(_ point: KillPoint) async throws {
        let cluster = try await ClusterHarness(killAt: point.at)
        defer { cluster.tearDown() }
        _ = try await cluster.tether(["attach", "--container", "c1", "--device", point.device], timeout: 60)
        let first = try #require(cluster.controller)
        #expect(await first.waitForExit(timeout: 30) != nil, "the controller killed itself at \(point.at)")
        #expect(first.output.contains("TETHER_FAULT_KILL_AT=\(point.at)"), "\(first.output)")

        try await cluster.startController()
        #expect(cluster.controller?.output.contains("driving unfinished operations") == true || point.at == "channel:done",
                "\(cluster.controller?.output ?? "")")
        let status = try await cluster.settled()
        let host = point.device == "046d:0825" ? "host-b" : "host-a"
        #expect(status.attachments.map(\.vmHost) == [host], "the attach completed after the restart: \(status.attachments)")
        #expect(try await cluster.qemuProcesses() == 1, "vm-a runs exactly once")
        let vm = try #require(await cluster.monitor(host))
        #expect(try await vm.status() == .running)
        let id = "tether-vm-a.host-b.\(point.device == "046d:0825" ? "1-3" : "1-4")"
        #expect(try await vm.usbRedirectionIDs() == [id])
        await vm.qmp.close()
    }

    /// The same with two controllers on etcd, at every step: the leader kills itself there, the
    /// standby leads within the lease time plus a second, drives the journal to its end, and the
    /// VM runs once.
    static let takeoverPoints = killPoints

    @Test(arguments: takeoverPoints)
    func theLeaderKilledAtAStepIsReplacedByTheStandbyWhichFinishesTheJobAndTheVMRunsOnce(_ point: KillPoint) async throws {
        let cluster = try await ClusterHarness(killAt: point.at, etcd: true)
        defer { cluster.tearDown() }
        _ = try await cluster.tether(["attach", "--container", "c1", "--device", point.device], timeout: 60)
        let first = try #require(cluster.controller)
        #expect(await first.waitForExit(timeout: 30) != nil, "the leader killed itself at \(point.at)")
        let killed = ContinuousClock.now
        let standby = try #require(cluster.standby)
        #expect(standby.waitForOutput("leading", timeout: 10), "\(standby.output)")
        #expect(ContinuousClock.now - killed < .seconds(4), "c2 led within the lease and a second (and this check's poll)")
        let status = try await cluster.settled()
        #expect(status.controllers.map(\.name) == ["c2"] && status.controllers.first?.leader == true)
        let host = point.device == "046d:0825" ? "host-b" : "host-a"
        #expect(status.attachments.map(\.vmHost) == [host], "the standby completed the attach: \(status.attachments) \(standby.output)")
        #expect(try await cluster.qemuProcesses() == 1, "vm-a runs exactly once")
        let vm = try #require(await cluster.monitor(host))
        #expect(try await vm.status() == .running)
        await vm.qmp.close()
    }
}
