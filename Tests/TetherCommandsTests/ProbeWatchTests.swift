import Foundation
import Testing
import TetherTestKit
import TetherTestSupport
import USBProbe

/// `tether probe --watch`: a recorded device is plugged in and pulled out through umockdev's
/// testbed while the probe watches through libusb hotplug (udev monitor), in another process.
@Suite(.requires(Tools.hasUMockdev, "umockdev is not installed (apt-get install umockdev)"))
struct ProbeWatchTests {
    struct WatchLine: Decodable {
        var event: String
        var device: DeviceReport?
    }

    @Test func arrivalAndRemovalAreSeenWithTheirFigures() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recording = try UMockdevRecording(contentsOf: Fixtures.usb("ch340"))
        let serial = try #require(recording.blocks.first { $0.attribute("idVendor") == "1a86" })
        let hubAndPCI = recording.blocks.filter { $0.syspath != serial.syspath }
        let hubFile = directory.appendingPathComponent("hub.umockdev")
        let deviceFile = directory.appendingPathComponent("serial.umockdev")
        try UMockdevRecording(blocks: hubAndPCI).write(to: hubFile)
        try UMockdevRecording(blocks: [serial]).write(to: deviceFile)
        let syspath = "/sys" + serial.syspath

        // The testbed runs under umockdev's preload too: its uevent sender finds devices through /sys.
        let testbed = try await BackgroundProcess(Tools.which("umockdev-wrapper") ?? "umockdev-wrapper", [Tools.product("usb-testbed")], input: true)
        defer { testbed.send("quit"); testbed.terminate() }
        let ready = try #require(testbed.waitForLine { $0.hasPrefix("ready ") }, "the testbed did not start")
        let root = String(ready.dropFirst("ready ".count))
        testbed.send("add \(hubFile.path)")
        #expect(testbed.waitForLine { $0 == "ok" || $0.hasPrefix("error") } == "ok")

        let watcher = try await BackgroundProcess(Tools.which("umockdev-wrapper") ?? "umockdev-wrapper",
                                             [Tools.product("tether"), "probe", "--watch", "--json", "--events", "2"],
                                             environment: ["UMOCKDEV_DIR": root])
        defer { watcher.terminate() }
        try #require(watcher.waitForLine { $0.contains(#""event":"watching""#) } != nil, "the watcher did not start")

        testbed.send("add \(deviceFile.path)")
        testbed.send("uevent \(syspath) add")
        let arrivedLine = try #require(watcher.waitForLine { $0.contains(#""event":"arrived""#) }, "no arrival seen")
        let arrived = try JSONDecoder().decode(WatchLine.self, from: Data(arrivedLine.utf8))
        #expect(arrived.device?.id == "1a86:7523")
        #expect(arrived.device?.portPath == "1-3")
        #expect(arrived.device?.periodicBytesPerSecond == 8_000)

        testbed.send("uevent \(syspath) remove")
        testbed.send("remove \(syspath)")
        let leftLine = try #require(watcher.waitForLine { $0.contains(#""event":"left""#) }, "no removal seen")
        let left = try JSONDecoder().decode(WatchLine.self, from: Data(leftLine.utf8))
        #expect(left.device?.id == "1a86:7523")
        #expect(left.device?.periodicBytesPerSecond == 8_000, "a removal reports what left, with its figures")
    }
}
