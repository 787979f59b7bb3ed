import Testing
@testable import USBProbe

/// The rules of shared/spec/probe.md, one row each, with figures worked out by hand.
struct BandwidthModelTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var speed: USBSpeed
        var attributes: UInt8          // 1 isochronous, 2 bulk, 3 interrupt
        var maxPacketSize: UInt16
        var interval: UInt8
        var companion: SuperSpeedCompanion? = nil
        var bytesPerInterval: Int
        var intervalMicroseconds: Int
        var transactions: Int
        var bytesPerSecond: Int
        var warns: Bool = false
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "low-speed interrupt 8 B / 10 ms", speed: .low, attributes: 3, maxPacketSize: 8, interval: 10,
              bytesPerInterval: 8, intervalMicroseconds: 10_000, transactions: 1, bytesPerSecond: 800),
        .init(name: "full-speed interrupt bInterval 255 is 255 ms", speed: .full, attributes: 3, maxPacketSize: 1, interval: 255,
              bytesPerInterval: 1, intervalMicroseconds: 255_000, transactions: 1, bytesPerSecond: 4),
        .init(name: "full-speed interrupt bInterval 0 is 1 ms", speed: .full, attributes: 3, maxPacketSize: 64, interval: 0,
              bytesPerInterval: 64, intervalMicroseconds: 1_000, transactions: 1, bytesPerSecond: 64_000, warns: true),
        .init(name: "full-speed isochronous 2^(4-1) ms", speed: .full, attributes: 1, maxPacketSize: 1023, interval: 4,
              bytesPerInterval: 1023, intervalMicroseconds: 8_000, transactions: 1, bytesPerSecond: 127_875),
        .init(name: "full-speed isochronous bInterval 255 clamps to 16", speed: .full, attributes: 1, maxPacketSize: 100, interval: 255,
              bytesPerInterval: 100, intervalMicroseconds: 32_768_000, transactions: 1, bytesPerSecond: 3, warns: true),
        .init(name: "full speed ignores the extra-transaction bits", speed: .full, attributes: 3, maxPacketSize: 0x1040, interval: 1,
              bytesPerInterval: 64, intervalMicroseconds: 1_000, transactions: 1, bytesPerSecond: 64_000, warns: true),
        .init(name: "high-speed isochronous 3 x 1020 every microframe", speed: .high, attributes: 1, maxPacketSize: 0x13FC, interval: 1,
              bytesPerInterval: 3060, intervalMicroseconds: 125, transactions: 3, bytesPerSecond: 24_480_000),
        .init(name: "high-speed interrupt bInterval 0 clamps to 1", speed: .high, attributes: 3, maxPacketSize: 64, interval: 0,
              bytesPerInterval: 64, intervalMicroseconds: 125, transactions: 1, bytesPerSecond: 512_000, warns: true),
        .init(name: "high-speed interrupt bInterval 255 clamps to 16", speed: .high, attributes: 3, maxPacketSize: 64, interval: 255,
              bytesPerInterval: 64, intervalMicroseconds: 4_096_000, transactions: 1, bytesPerSecond: 16, warns: true),
        .init(name: "high speed: reserved multiplier 3 counts as 2", speed: .high, attributes: 1, maxPacketSize: 0x1C00, interval: 1,
              bytesPerInterval: 3072, intervalMicroseconds: 125, transactions: 3, bytesPerSecond: 24_576_000, warns: true),
        .init(name: "reserved bits 15..13 are masked off", speed: .high, attributes: 3, maxPacketSize: 0xE040, interval: 4,
              bytesPerInterval: 64, intervalMicroseconds: 1_000, transactions: 1, bytesPerSecond: 64_000, warns: true),
        .init(name: "high speed: 1 B every 256 ms is 3.906, rounded to 4", speed: .high, attributes: 3, maxPacketSize: 1, interval: 12,
              bytesPerInterval: 1, intervalMicroseconds: 256_000, transactions: 1, bytesPerSecond: 4),
        .init(name: "bulk reserves nothing", speed: .high, attributes: 2, maxPacketSize: 512, interval: 0,
              bytesPerInterval: 0, intervalMicroseconds: 0, transactions: 1, bytesPerSecond: 0),
        .init(name: "control reserves nothing", speed: .full, attributes: 0, maxPacketSize: 64, interval: 0,
              bytesPerInterval: 0, intervalMicroseconds: 0, transactions: 1, bytesPerSecond: 0),
        .init(name: "SuperSpeed isochronous uses wBytesPerInterval", speed: .superSpeed, attributes: 1, maxPacketSize: 1024, interval: 1,
              companion: .init(maxBurst: 15, attributes: 2, bytesPerInterval: 49_152),
              bytesPerInterval: 49_152, intervalMicroseconds: 125, transactions: 48, bytesPerSecond: 393_216_000),
        .init(name: "SuperSpeed interrupt without a companion uses wMaxPacketSize", speed: .superSpeed, attributes: 3, maxPacketSize: 1024, interval: 4,
              bytesPerInterval: 1024, intervalMicroseconds: 1_000, transactions: 1, bytesPerSecond: 1_024_000, warns: true),
        .init(name: "SuperSpeedPlus isochronous companion's dwBytesPerInterval", speed: .superSpeedPlus, attributes: 1, maxPacketSize: 1024, interval: 1,
              companion: .init(maxBurst: 15, attributes: 0x80, bytesPerInterval: 1, plusIsochronousBytesPerInterval: 98_304),
              bytesPerInterval: 98_304, intervalMicroseconds: 125, transactions: 16, bytesPerSecond: 786_432_000),
    ]

    @Test(arguments: cases)
    func figure(_ c: Case) {
        let endpoint = EndpointDescriptor(address: 0x81, attributes: c.attributes, maxPacketSize: c.maxPacketSize,
                                          interval: c.interval, companion: c.companion)
        let need = BandwidthModel.need(of: endpoint, at: c.speed)
        #expect(need.bytesPerInterval == c.bytesPerInterval)
        #expect(need.intervalMicroseconds == c.intervalMicroseconds)
        #expect(need.transactionsPerInterval == c.transactions)
        #expect(need.bytesPerSecond == c.bytesPerSecond)
        #expect(need.warnings.isEmpty == !c.warns, "warnings: \(need.warnings)")
    }

    @Test("integer rounding is the spec's (b * 2e6 + i) / 2i", arguments: [
        (1, 400, 2_500), (1, 3, 333_333), (2, 3, 666_667), (1, 2_000_000, 1), (1, 2_000_001, 0), (3060, 125, 24_480_000),
    ])
    func rounding(_ b: Int, _ i: Int, _ expected: Int) {
        #expect(BandwidthModel.bytesPerSecond(bytesPerInterval: b, intervalMicroseconds: i) == expected)
    }
}
