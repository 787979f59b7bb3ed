import Foundation
import Testing
import TetherTestKit
import TetherTestSupport
import USBProbe

private typealias B = DescriptorBuilder

/// Devices at every speed through real libusb under umockdev, with both descriptor sources:
/// the strict parse of the raw bytes and libusb's own parse (SuperSpeed companions included).
@Suite(.requires(Tools.hasUMockdev, "umockdev is not installed (apt-get install umockdev)"))
struct ProbeSpeedsTests {
    /// A SuperSpeed camera-like device: isochronous IN with a companion (bMaxBurst 15, Mult 2:
    /// 48 packets, wBytesPerInterval 49152 every 125 us = 393,216,000 B/s) and interrupt IN with
    /// a companion (1024 bytes every 2^3 x 125 us = 1 ms = 1,024,000 B/s).
    static let superSpeed: [UInt8] = {
        var device = B.device(vendor: 0x2BD9, product: 0x0011)
        device[2] = 0x20; device[3] = 0x03   // bcdUSB 3.20
        return device + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 2)
            + B.endpoint(0x81, type: 1, maxPacketSize: 1024, interval: 1) + B.companion(maxBurst: 15, attributes: 2, bytesPerInterval: 49_152)
            + B.endpoint(0x82, type: 3, maxPacketSize: 1024, interval: 4) + B.companion(maxBurst: 0, attributes: 0, bytesPerInterval: 1024))
    }()

    /// A low-speed mouse: 4-byte interrupt IN every 10 ms = 400 B/s.
    static let lowSpeed: [UInt8] = B.device(vendor: 0x046D, product: 0xC077) + B.configuration(interfaces: 1, body:
        B.interface(0, endpoints: 1, class: 3) + B.endpoint(0x81, type: 3, maxPacketSize: 4, interval: 10))

    @Test(arguments: [
        ("1.5", 1.5, lowSpeed, 400),
        ("5000", 5000, superSpeed, 394_240_000),
        ("10000", 10000, superSpeed, 394_240_000),
        // libusb 1.0.26 has no name for 20 Gb/s; the kernel's sysfs speed is used.
        ("20000", 20000, superSpeed, 394_240_000),
    ] as [(String, Double, [UInt8], Int)])
    func figureAtEverySpeed(_ sysfsSpeed: String, _ mbps: Double, _ descriptors: [UInt8], _ figure: Int) async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("speed.umockdev")
        try UMockdevRecording(blocks: [UMockdevRecording.deviceBlock(bus: 1, address: 3, ports: [2], speed: sysfsSpeed, descriptors: descriptors)]
                              + UMockdevRecording.rootHub(bus: 1)).write(to: url)
        for source in ["auto", "libusb"] {
            let report = try await ProbeRunner.json(url, extra: ["--descriptor-source", source])
            let device = try #require(report.devices.first { $0.portPath == "1-2" })
            #expect(device.speedMbps == mbps, "\(source)")
            #expect(device.periodicBytesPerSecond == figure, "\(source): \(device.error ?? "") \(device.warnings)")
            #expect(device.warnings.isEmpty, "\(source): \(device.warnings)")
        }
        let raw = try await ProcessRunner.underUMockdev(url, Tools.product("tether"), ["probe", "--json"])
        #expect(raw.stdout.contains(#""speedMbps" : \#(sysfsSpeed)"#), "speedMbps is a plain number")
    }
}
