import Channel
import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherTestSupport
import USBProbe
import USBRedirReplay

/// A recorded device, announced by a usbredir peer on the "device's host", carried by the relay
/// (serve, mutual TLS, connect) to a real QEMU VM's usb-redir chardev on the "VM's host".
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct ChannelEndToEndTests {
    struct Setup {
        let peer: USBRedirPeer
        let serve: ChannelRelay
        let connect: ChannelRelay
        let pki: String
    }

    func channel(session: String? = nil,
                 connectOn listen: ListenAddress = .tcp(host: "127.0.0.1", port: 0)) async throws -> Setup {
        let pki = try Fixtures.temporaryDirectory().path
        _ = try ClusterCA.initialize(in: pki)
        _ = try ClusterCA.issue(name: "host-b", in: pki)
        _ = try ClusterCA.issue(name: "host-a", in: pki)
        let recording = try UMockdevRecording(contentsOf: Fixtures.usb("ch340"))
        let bytes = try #require(recording.usbDevices.first { $0.attribute("idVendor") == "1a86" }?.descriptors)
        let peer = try USBRedirPeer(descriptors: bytes, speed: .full)
        let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: peer.port,
                                                 identity: TLSIdentity(directory: pki, name: "host-b"), allow: ["host-a"])
        let connect = try await ChannelRelay.start(.connect, listen: listen, targetHost: "127.0.0.1",
                                                   targetPort: serve.port, identity: TLSIdentity(directory: pki, name: "host-a"),
                                                   allow: ["host-b"], session: session)
        return Setup(peer: peer, serve: serve, connect: connect, pki: pki)
    }

    /// The CH340 shows up in the VM through the channel, its announcement and the VM's hello
    /// both metered, and detaching it closes the channel through to the device's host.
    func expectDeviceComesAndGoes(_ vm: QEMUMachine, _ setup: Setup, helloMeteredBy relay: ChannelRelay) async throws {
        let device = try #require(try await waitForDevice(vm), "the forwarded device never showed up")
        #expect(device.speed == "12 Mb/s")
        #expect(device.id == "tether-redir0")
        #expect(setup.serve.meter.total(.toVM) > 0, "the device's announcement crossed the metered channel")
        #expect(relay.meter.total(.toDevice) > 0, "and the VM's hello the other way")
        try await vm.detachUSBRedirection(id: "tether-redir0")
        #expect(try await vm.usbDevices().isEmpty)
        for _ in 0..<100 where !setup.peer.wasClosedByVM { try await Task.sleep(for: .milliseconds(20)) }
        #expect(setup.peer.wasClosedByVM, "detaching closes the channel through to the device's host")
    }

    func waitForDevice(_ vm: QEMUMachine) async throws -> USBDeviceInfo? {
        for _ in 0..<1000 {
            if let device = try await vm.usbDevices().first(where: \.isAddressed) { return device }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    @Test func aForwardedDeviceShowsUpInTheVMAndGoesOnDetach() async throws {
        let setup = try await channel()
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "vm", memoryMiB: 64))
            try await vm.attachUSBRedirection(id: "tether-redir0", host: "127.0.0.1", port: setup.connect.port)
            try await expectDeviceComesAndGoes(vm, setup, helloMeteredBy: setup.serve)
        }
        await setup.serve.stop()
        await setup.connect.stop()
    }

    /// The connect end as the agent runs it: a unix socket private to QEMU's uid, which the
    /// usb-redir chardev dials. QEMU may be attached before the relay listens: its chardev
    /// keeps dialling (`reconnect`, every second) until the socket is there.
    @Test func aForwardedDeviceReachesTheVMThroughAPrivateUnixSocket() async throws {
        let base = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = "\(base)/channels/vm.sock"
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "vm", memoryMiB: 64))
            try await vm.attachUSBRedirection(id: "tether-redir0", socketPath: path)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await !vm.usbDevices().contains(where: \.isAddressed), "nothing yet: the socket does not exist")
            let setup = try await channel(connectOn: .unix(path: path))
            #expect(setup.connect.socketPath == path)
            try await expectDeviceComesAndGoes(vm, setup, helloMeteredBy: setup.connect)
            await setup.serve.stop()
            await setup.connect.stop()
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    /// The VM host's relay killed and started again (`tether channel connect --listen-unix`):
    /// its socket file is left behind, the next relay replaces it, and QEMU's chardev, dialling
    /// every second, finds the new one; the device comes back over a new stream.
    @Test func qemuRedialsAConnectEndStartedAgainOnTheSamePath() async throws {
        let setup = try await channel()
        let base = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = "\(base)/channels/vm.sock"
        let arguments = ["channel", "connect", "--listen-unix", path, "--to", "127.0.0.1:\(setup.serve.port)",
                         "--tls-dir", setup.pki, "--name", "host-a", "--allow", "host-b"]
        let first = try await BackgroundProcess(Tools.product("tether"), arguments)
        #expect(first.waitForOutput("connecting on unix:\(path)"), "\(first.output)")
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "vm", memoryMiB: 64))
            try await vm.attachUSBRedirection(id: "tether-redir0", socketPath: path)
            #expect(try await waitForDevice(vm) != nil, "the device never showed up")

            first.kill()
            _ = await first.waitForExit(timeout: 5)
            #expect(FileManager.default.fileExists(atPath: path), "a killed relay leaves its socket file")
            let announcedDevice: @Sendable (USBDeviceInfo) -> Bool = { $0.speed == "12 Mb/s" }
            for _ in 0..<250 where try await vm.usbDevices().contains(where: announcedDevice) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await !vm.usbDevices().contains(where: announcedDevice), "the device goes with its stream")

            let second = try await BackgroundProcess(Tools.product("tether"), arguments)
            #expect(second.waitForOutput("connecting on unix:\(path)"), "\(second.output)")
            // Announced again (12 Mb/s; the placeholder of a chardev with no device is 1.5 Mb/s),
            // but not addressed: these VMs have no guest OS, and the firmware addresses USB
            // devices only while it boots.
            var announced: USBDeviceInfo?
            for _ in 0..<500 where announced == nil {
                announced = try await vm.usbDevices().first(where: announcedDevice)
                if announced == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let device = try #require(announced, "QEMU did not dial the new relay: \(second.output)")
            #expect(device.id == "tether-redir0")
            #expect(setup.peer.connectionCount == 2, "a new stream to the device's host")
            second.terminate()
            #expect(await second.waitForExit(timeout: 10) != nil)
            #expect(!FileManager.default.fileExists(atPath: path), "a relay stopped by SIGTERM removes its socket")
        }
        await setup.serve.stop()
        await setup.connect.stop()
    }

    /// After a live migration the VM's new host runs the relay end and the device stays.
    @Test func theDeviceFollowsTheVMThroughALiveMigration() async throws {
        // Both of the VM's hosts name the same channel session, so the device's stream continues.
        let setup = try await channel(session: "vm-1/host-b/1-3")
        // The new host's own relay end, to the same serving end.
        let newHostEnd = try await ChannelRelay.start(.connect, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                      targetPort: setup.serve.port,
                                                      identity: TLSIdentity(directory: setup.pki, name: "host-a"), allow: ["host-b"],
                                                      session: "vm-1/host-b/1-3")
        try await QEMUTestbed.with { bed in
            let source = try await bed.launch(VMSpec(name: "src", memoryMiB: 64))
            try await source.attachUSBRedirection(id: "tether-redir0", host: "127.0.0.1", port: setup.connect.port)
            #expect(try await waitForDevice(source) != nil)

            // The receiving VM gets the same device, pointed at its host's relay end, before the state arrives.
            let target = try await bed.launch(VMSpec(name: "dst", memoryMiB: 64, incoming: true))
            try await target.attachUSBRedirection(id: "tether-redir0", host: "127.0.0.1", port: newHostEnd.port)
            let result = try await source.migrate(to: target, uri: "tcp:127.0.0.1:\(try QEMUTestbed.freePort())",
                                                  options: MigrationOptions()) { _ in }
            #expect(result.status == .completed)
            try await source.quit()
            let device = try #require(try await waitForDevice(target), "the device did not follow the VM")
            #expect(device.id == "tether-redir0")
            // The new host's connection took over the same stream to the device's host: the
            // device side saw one connection only, and the stream carries on.
            for _ in 0..<250 where newHostEnd.meter.total(.toDevice) == 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(setup.peer.connectionCount == 1, "one usbredir stream, continued across the move")
            #expect(setup.peer.isConnected)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await target.usbDevices().first(where: \.isAddressed)?.id == "tether-redir0", "and the device is still there")
        }
        await newHostEnd.stop()
        await setup.serve.stop()
        await setup.connect.stop()
    }
}
