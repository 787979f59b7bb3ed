import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherTestSupport
import USBProbe
import USBRedirReplay

/// A usb-redir device hot-added to a real VM, its chardev connected to a usbredir peer that
/// announces the recorded CH340: it is in the VM's USB list while connected, and gone after.
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct USBRedirectionTests {
    @Test func aRedirectedDeviceAppearsWhileConnectedAndGoesOnDetach() async throws {
        let recording = try UMockdevRecording(contentsOf: Fixtures.usb("ch340"))
        let bytes = try #require(recording.usbDevices.first { $0.attribute("idVendor") == "1a86" }?.descriptors)
        let peer = try USBRedirPeer(descriptors: bytes, speed: .full)
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "usbvm", memoryMiB: 64))
            #expect(try await vm.usbDevices().isEmpty)

            try await vm.attachUSBRedirection(id: "redir0", host: "127.0.0.1", port: peer.port)
            var devices: [USBDeviceInfo] = []
            for _ in 0..<1000 where devices.isEmpty {
                try await Task.sleep(for: .milliseconds(20))
                devices = try await vm.usbDevices().filter(\.isAddressed)
            }
            #expect(peer.isConnected)
            let device = try #require(devices.first, "the redirected device never showed up")
            #expect(device.speed == "12 Mb/s", "announced at full speed")
            #expect(device.id == "redir0")

            try await vm.detachUSBRedirection(id: "redir0")
            #expect(try await vm.usbDevices().isEmpty)
            for _ in 0..<100 where !peer.wasClosedByVM { try await Task.sleep(for: .milliseconds(20)) }
            #expect(peer.wasClosedByVM, "removing the chardev hangs up on the peer")
        }
    }

    /// With nothing listening yet (a TCP port, or a unix socket path that does not exist), the
    /// add succeeds: the chardev dials in the background. A second add under the same id fails.
    @Test(arguments: [false, true])
    func aRedirectionToANameAlreadyTakenIsRefusedAndLeavesNothing(unix: Bool) async throws {
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "dupvm", memoryMiB: 64))
            let port = try QEMUTestbed.freePort()
            let attach = { @Sendable in
                if unix {
                    try await vm.attachUSBRedirection(id: "redir0", socketPath: bed.path("nobody-here.sock"))
                } else {
                    try await vm.attachUSBRedirection(id: "redir0", host: "127.0.0.1", port: port)
                }
            }
            try await attach()
            let chardev = try await vm.qmp.execute("query-chardev").array?.first { $0["label"]?.string == "redir0-chr" }
            // "disconnected:unix:PATH" or "disconnected:tcp:HOST:PORT" until something listens.
            let expected = unix ? "unix:\(bed.path("nobody-here.sock"))" : "tcp:127.0.0.1:\(port)"
            #expect(chardev?["filename"]?.string?.contains(expected) == true, "\(String(describing: chardev))")
            await #expect(throws: QMPError.self) { try await attach() }
            try await vm.detachUSBRedirection(id: "redir0")
            // Both the device and its chardev are gone: the same id can be used again.
            try await attach()
        }
    }
}
