import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// Devices come back for real: the recorded CH340 forwarded from host-b to vm-a's QEMU on
/// host-a, pulled out of host-b's umockdev testbed (lost), plugged in again (given back, QEMU
/// sees it announced again), then both agents killed with SIGKILL and started again (the
/// exports and channel ends they held are made again from the controller's records).
@Suite(.serialized, .requires(ClusterHarness.canRun, "needs root, iproute2, umockdev, QEMU, setpriv and python3 (CI has them all)"))
struct DeviceReturnTests {
    static let id = "tether-vm-a.host-b.1-4"

    func attachment(_ cluster: ClusterHarness) async throws -> DeviceAttachment? { try await cluster.status().attachments.first }

    /// Polls until `condition` holds (up to `seconds`).
    func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func announced(_ vm: QEMUMachine) async throws -> Bool {
        try await vm.usbDevices().contains { $0.id == Self.id && $0.isAnnounced }
    }

    @Test func aPulledDongleIsLostThenBackAndAgentsThatRestartGiveItAgain() async throws {
        let cluster = try await ClusterHarness(hotplug: true)
        defer { cluster.tearDown() }
        try cluster.plugDongle()
        #expect(try await eventually(10) { try await cluster.hostBDevices().contains("1-4") })
        let attach = try await cluster.tether(["attach", "--container", "c1", "--device", "1a86:7523"])
        #expect(attach.status == 0, "\(attach.stdout)\(attach.stderr)")
        let vm = try #require(await cluster.monitor("host-a"))
        defer { Task { await vm.qmp.close() } }
        #expect(try await eventually(10) { try await announced(vm) }, "forwarded")
        // host-b's relay meters the channel, and its heartbeats make the dongle's observed figure.
        #expect(try await eventually(5) { try await cluster.status().devices.first { $0.device.description == "host-b/1-4" }?.source == .observed })

        cluster.pullDongle()
        #expect(try await eventually(10) { try await attachment(cluster)?.lost?.hasPrefix("unplugged from host-b") == true },
                "lost; host-b's agent said: \(cluster.agents["host-b"]?.output.suffix(3000) ?? "")")
        #expect(try await eventually(10) { try await !announced(vm) }, "QEMU's usb-redir lost its peer")
        let text = try await cluster.tether(["status"])
        #expect(text.stdout.contains("LOST: unplugged from host-b"), "\(text.stdout)")

        try cluster.plugDongle()
        #expect(try await eventually(10) { try await attachment(cluster)?.lost == nil }, "back")
        #expect(try await eventually(15) { try await announced(vm) }, "given to vm-a again")

        try await cluster.restartAgents()
        #expect(try await eventually(20) {
            cluster.agents["host-b"]?.output.contains("exported device") == true && cluster.agents["host-a"]?.output.contains("opened channel") == true
        }, "the restarted agents were given the attachment again: \(cluster.agents["host-b"]?.output.suffix(2000) ?? "")")
        #expect(try await eventually(15) { try await announced(vm) }, "and QEMU has the dongle through the new channel")
        #expect(try await attachment(cluster)?.lost == nil)
    }

    /// A device given on its own host: QEMU dials the exporter itself, at an address a restarted
    /// agent does not keep; the usb-redir device is added again pointing at the new one.
    @Test func aLocalDeviceComesBackAfterItsAgentRestarts() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let attach = try await cluster.tether(["attach", "--container", "c1", "--device", "046d:0825"])
        #expect(attach.status == 0, "\(attach.stdout)\(attach.stderr)")
        let vm = try #require(await cluster.monitor("host-b"))
        defer { Task { await vm.qmp.close() } }
        let webcam = "tether-vm-a.host-b.1-3"
        #expect(try await eventually(10) { try await vm.usbDevices().contains { $0.id == webcam && $0.isAnnounced } }, "local on host-b")
        try await cluster.restartAgents()
        #expect(try await eventually(20) { cluster.agents["host-b"]?.output.contains("opened channel") == true },
                "the restarted agent gave vm-a the webcam again: \(cluster.agents["host-b"]?.output.suffix(2000) ?? "")")
        #expect(try await eventually(15) { try await vm.usbDevices().contains { $0.id == webcam && $0.isAnnounced } }, "QEMU has it again")
        #expect(try await cluster.status().attachments.first?.lost == nil)
    }
}
