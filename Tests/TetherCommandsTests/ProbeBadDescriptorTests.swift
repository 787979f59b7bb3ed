import Foundation
import Testing
import TetherTestKit
import TetherTestSupport
import USBProbe

private typealias B = DescriptorBuilder

/// Recordings with one broken device beside a good one, through real libusb under umockdev:
/// the broken one gets a clear error or warning, the good one its exact figure, and the probe
/// neither crashes nor hangs.
@Suite(.requires(Tools.hasUMockdev, "umockdev is not installed (apt-get install umockdev)"))
struct ProbeBadDescriptorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var descriptors: [UInt8]
        /// nil: the device must have an error and no figure.
        var figure: Int?
        var says: String
        var testDescription: String { name }
    }

    static let device = B.device()
    static let interface = B.interface(0, endpoints: 1)
    static func configuration(totalLength: Int? = nil, _ body: [UInt8]) -> [UInt8] {
        B.configuration(interfaces: 1, totalLength: totalLength, body: body)
    }
    static func endpoint(_ address: UInt8 = 0x81, size: UInt16 = 64, interval: UInt8 = 1) -> [UInt8] {
        B.endpoint(address, type: 3, maxPacketSize: size, interval: interval)
    }

    static let cases: [Case] = [
        Case(name: "truncated configuration", descriptors: device + Array(configuration(interface + endpoint()).dropLast(3)),
             figure: nil, says: "truncated"),
        Case(name: "zero bLength", descriptors: device + configuration([0, 4, 0, 0, 1, 0xFF, 0, 0, 0] + endpoint()),
             figure: nil, says: "bLength 0"),
        Case(name: "zero-length configuration header (libusb drops the device)",
             descriptors: device + [0, 2, 25, 0, 1, 1, 0, 0x80, 50] + interface + endpoint(),
             figure: nil, says: "expected a configuration descriptor at byte 18"),
        Case(name: "wTotalLength past the end", descriptors: device + configuration(totalLength: 120, interface + endpoint()),
             figure: nil, says: "wTotalLength 120 runs past"),
        Case(name: "endpoint before any interface", descriptors: device + configuration(endpoint(0x83) + interface + endpoint()),
             figure: 512_000, says: "endpoint 0x83 at byte 27 belongs to no interface"),
        Case(name: "bInterval 0", descriptors: device + configuration(interface + endpoint(interval: 0)),
             figure: 512_000, says: "bInterval 0 is outside 1..16; 1 is used"),
        Case(name: "bInterval 255", descriptors: device + configuration(interface + endpoint(interval: 255)),
             figure: 16, says: "bInterval 255 is outside 1..16; 16 is used"),
        Case(name: "wMaxPacketSize with reserved bits", descriptors: device + configuration(interface + endpoint(size: 0xE040)),
             figure: 512_000, says: "reserved bits 15..13"),
        Case(name: "short device descriptor", descriptors: Array(device.prefix(12)),
             figure: nil, says: "device descriptor is 12 bytes long"),
    ]

    @Test(arguments: cases)
    func brokenDeviceIsReportedAndTheGoodOneIsExact(_ c: Case) throws {
        let ch340 = try #require(UMockdevRecording(contentsOf: Fixtures.usb("ch340")).usbDevices.first { $0.attribute("idVendor") == "1a86" })
        let file = UMockdevRecording(blocks: [UMockdevRecording.deviceBlock(bus: 1, address: 4, ports: [3], speed: "12", descriptors: try #require(ch340.descriptors)),
                      UMockdevRecording.deviceBlock(bus: 1, address: 5, ports: [4], speed: "480", descriptors: c.descriptors)]
            + UMockdevRecording.rootHub(bus: 1))
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.umockdev")
        try file.write(to: url)

        let report = try ProbeRunner.json(url)
        let good = try #require(report.devices.first { $0.portPath == "1-3" })
        #expect(good.periodicBytesPerSecond == 8_000)
        #expect(good.error == nil)
        let bad = try #require(report.devices.first { $0.portPath == "1-4" }, "the broken device must be listed, not hidden")
        #expect(bad.address == 5)
        #expect(bad.periodicBytesPerSecond == c.figure)
        let said = ([bad.error].compactMap { $0 } + bad.warnings).joined(separator: " | ")
        #expect(said.contains(c.says), "said: \(said)")
        if c.figure == nil {
            #expect(bad.error != nil)
        } else {
            #expect(bad.error == nil, "\(bad.error ?? "")")
        }
        let table = try ProcessRunner.underUMockdev(url, Tools.product("tether"), ["probe"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("1-4 1234:5678: " + (c.figure == nil ? "error" : "warning")))
    }
}
