import Foundation
import Testing
import TetherTestKit
import TetherTestSupport
import USBProbe

private typealias B = DescriptorBuilder

/// Recordings with one broken device beside a good one, through real libusb under umockdev:
/// the broken one gets what Linux's USB core would configure and a warning saying what was
/// skipped (an error only when no configuration can be read), the good one its exact figure,
/// and the probe neither crashes nor hangs.
@Suite(.requires(Tools.hasUMockdev, "umockdev is not installed (apt-get install umockdev)"))
struct ProbeBadDescriptorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var descriptors: [UInt8]
        /// nil: the device must have an error and no figure.
        var figure: Int?
        var says: String
        /// What libusb's own parse (`--descriptor-source libusb`) makes of the device.
        var libusb = LibUSBParse.notCompared
        var testDescription: String { name }
    }

    enum LibUSBParse: Sendable {
        case notCompared
        /// The same figure and interfaces as the kernel's rule gives.
        case agrees
        /// libusb refuses the configuration the kernel configures: why the bytes are parsed here.
        case refuses
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
        Case(name: "last class-specific descriptor claims one byte more than remains",
             descriptors: device + configuration(interface + endpoint() + [5, 0x24, 0x01, 0x00]),
             figure: 512_000, says: "descriptor 0x24 at byte 43 claims 5 bytes but only 4 remain", libusb: .agrees),
        Case(name: "truncated configuration: the cut endpoint is not configured",
             descriptors: device + Array(configuration(B.interface(0, endpoints: 2) + endpoint() + endpoint(0x82)).dropLast(3)),
             figure: 512_000, says: "descriptor 0x05 at byte 43 claims 7 bytes but only 4 remain (truncated)", libusb: .agrees),
        Case(name: "zero bLength after an endpoint: the rest is skipped",
             descriptors: device + configuration(B.interface(0, endpoints: 2) + endpoint() + [0, 0x24, 0, 0] + endpoint(0x82)),
             figure: 512_000, says: "descriptor at byte 43 has bLength 0", libusb: .refuses),
        Case(name: "zero bLength interface: nothing is configured",
             descriptors: device + configuration([0, 4, 0, 0, 1, 0xFF, 0, 0, 0] + endpoint()),
             figure: 0, says: "bLength 0"),
        Case(name: "zero-length configuration header (libusb drops the device)",
             descriptors: device + [0, 2, 25, 0, 1, 1, 0, 0x80, 50] + interface + endpoint(),
             figure: nil, says: "expected a configuration descriptor at byte 18"),
        Case(name: "wTotalLength past the end", descriptors: device + configuration(totalLength: 120, interface + endpoint()),
             figure: 512_000, says: "wTotalLength 120 runs past the 25 bytes present"),
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
    func brokenDeviceIsReportedAndTheGoodOneIsExact(_ c: Case) async throws {
        let ch340 = try #require(UMockdevRecording(contentsOf: Fixtures.usb("ch340")).usbDevices.first { $0.attribute("idVendor") == "1a86" })
        let file = UMockdevRecording(blocks: [UMockdevRecording.deviceBlock(bus: 1, address: 4, ports: [3], speed: "12", descriptors: try #require(ch340.descriptors)),
                      UMockdevRecording.deviceBlock(bus: 1, address: 5, ports: [4], speed: "480", descriptors: c.descriptors)]
            + UMockdevRecording.rootHub(bus: 1))
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.umockdev")
        try file.write(to: url)

        let report = try await ProbeRunner.json(url)
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
        if c.libusb != .notCompared {
            let viaLibusb = try await ProbeRunner.json(url, extra: ["--descriptor-source", "libusb"])
            let theirs = try #require(viaLibusb.devices.first { $0.portPath == "1-4" })
            if c.libusb == .agrees {
                #expect(theirs.periodicBytesPerSecond == bad.periodicBytesPerSecond, "\(theirs)")
                #expect(theirs.interfaces == bad.interfaces)
            } else {
                #expect(theirs.periodicBytesPerSecond == nil, "libusb now configures it: \(theirs)")
            }
        }
        let table = try await ProcessRunner.underUMockdev(url, Tools.product("tether"), ["probe"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("1-4 1234:5678: " + (c.figure == nil ? "error" : "warning")))
    }
}
