/// Figures derived by hand from shared/spec/probe.md for the recorded devices: the answers the
/// probe must give, written down independently of the code that computes them.
///
/// Each endpoint: (interface, alternate setting, endpoint address, bytes per interval,
/// interval in microseconds, bytes per second).
public struct ExpectedDevice: Sendable {
    public var portPath: String
    public var vendorProduct: String
    public var speedMbps: Double
    public var periodicBytesPerSecond: Int
    public var interfaces: [Int: Int]
    public var endpoints: [ExpectedEndpoint]
}

public struct ExpectedEndpoint: Sendable, Equatable {
    public var interface: Int, alternate: Int, address: Int
    public var bytesPerInterval: Int, intervalMicroseconds: Int, bytesPerSecond: Int

    public init(_ interface: Int, _ alternate: Int, _ address: Int, _ bytesPerInterval: Int, _ intervalMicroseconds: Int, _ bytesPerSecond: Int) {
        self.interface = interface
        self.alternate = alternate
        self.address = address
        self.bytesPerInterval = bytesPerInterval
        self.intervalMicroseconds = intervalMicroseconds
        self.bytesPerSecond = bytesPerSecond
    }
}

public enum ExpectedFigures {
    // A high-speed root hub: interrupt IN 0x81, 4 bytes, bInterval 12 -> 2^11 x 125 us = 256 ms;
    // 4 x 1e6 / 256000 = 15.625 -> 16.
    static let rootHub = ExpectedDevice(portPath: "1-0", vendorProduct: "1d6b:0002", speedMbps: 480, periodicBytesPerSecond: 16,
                                        interfaces: [0: 16], endpoints: [.init(0, 0, 0x81, 4, 256_000, 16)])
    // A high-speed hub with a 1-byte status endpoint at bInterval 12: 1e6 / 256000 = 3.906 -> 4.
    static func highSpeedHub(_ port: String, _ id: String, alternates: [Int] = [0]) -> ExpectedDevice {
        ExpectedDevice(portPath: port, vendorProduct: id, speedMbps: 480, periodicBytesPerSecond: 4, interfaces: [0: 4],
                       endpoints: alternates.map { .init(0, $0, 0x81, 1, 256_000, 4) })
    }

    public static let byRecording: [String: [ExpectedDevice]] = [
        // Webcam, high speed. Video alternates: n x size every 125 us (bInterval 1); audio every
        // 2^3 x 125 us = 1 ms (bInterval 4); interrupt 16 bytes every 2^7 x 125 us = 16 ms.
        "logitech-c270": [rootHub, ExpectedDevice(
            portPath: "1-3", vendorProduct: "046d:0825", speedMbps: 480, periodicBytesPerSecond: 24_677_000,
            interfaces: [0: 1_000, 1: 24_480_000, 2: 0, 3: 196_000],
            endpoints: [
                .init(0, 0, 0x87, 16, 16_000, 1_000),
                .init(1, 1, 0x81, 192, 125, 1_536_000), .init(1, 2, 0x81, 384, 125, 3_072_000),
                .init(1, 3, 0x81, 512, 125, 4_096_000), .init(1, 4, 0x81, 640, 125, 5_120_000),
                .init(1, 5, 0x81, 800, 125, 6_400_000), .init(1, 6, 0x81, 944, 125, 7_552_000),
                .init(1, 7, 0x81, 1280, 125, 10_240_000), .init(1, 8, 0x81, 1600, 125, 12_800_000),
                .init(1, 9, 0x81, 1984, 125, 15_872_000), .init(1, 10, 0x81, 2688, 125, 21_504_000),
                .init(1, 11, 0x81, 3060, 125, 24_480_000),
                .init(3, 1, 0x86, 68, 1_000, 68_000), .init(3, 2, 0x86, 100, 1_000, 100_000),
                .init(3, 3, 0x86, 132, 1_000, 132_000), .init(3, 4, 0x86, 196, 1_000, 196_000),
            ])],
        // USB-serial, full speed: bulk pair (nothing) and interrupt 8 bytes every 1 ms.
        "ch340": [rootHub, ExpectedDevice(
            portPath: "1-3", vendorProduct: "1a86:7523", speedMbps: 12, periodicBytesPerSecond: 8_000, interfaces: [0: 8_000],
            endpoints: [.init(0, 0, 0x82, 0, 0, 0), .init(0, 0, 0x02, 0, 0, 0), .init(0, 0, 0x81, 8, 1_000, 8_000)])],
        // Dual serial, high speed, bulk only.
        "ftdi-hs": [rootHub, ExpectedDevice(
            portPath: "1-3", vendorProduct: "0403:6010", speedMbps: 480, periodicBytesPerSecond: 0, interfaces: [0: 0, 1: 0],
            endpoints: [.init(0, 0, 0x81, 0, 0, 0), .init(0, 0, 0x02, 0, 0, 0), .init(1, 0, 0x83, 0, 0, 0), .init(1, 0, 0x04, 0, 0, 0)])],
        // Keyboard (full speed) behind its own hub (full speed, bInterval 255 = 255 ms:
        // 1e6 / 255000 = 3.92 -> 4) behind two high-speed hubs.
        "usbkbd": [rootHub,
                   highSpeedHub("1-1", "8087:0020"),
                   highSpeedHub("1-1.5", "17ef:1005", alternates: [0, 1]),
                   ExpectedDevice(portPath: "1-1.5.4", vendorProduct: "05f3:0081", speedMbps: 12, periodicBytesPerSecond: 4,
                                  interfaces: [0: 4], endpoints: [.init(0, 0, 0x81, 1, 255_000, 4)]),
                   ExpectedDevice(portPath: "1-1.5.4.2", vendorProduct: "05f3:0007", speedMbps: 12, periodicBytesPerSecond: 1_500,
                                  interfaces: [0: 1_000, 1: 500],
                                  endpoints: [.init(0, 0, 0x81, 8, 8_000, 1_000), .init(1, 0, 0x82, 4, 8_000, 500)])],
        // Camera (high speed): bulk pair and interrupt 8 bytes every 2^8 x 125 us = 32 ms.
        "canon-powershot-sx200": [rootHub,
                                  highSpeedHub("1-1", "8087:0020"),
                                  highSpeedHub("1-1.5", "17ef:1005", alternates: [0, 1]),
                                  highSpeedHub("1-1.5.2", "0409:0058"),
                                  ExpectedDevice(portPath: "1-1.5.2.3", vendorProduct: "04a9:31c0", speedMbps: 480,
                                                 periodicBytesPerSecond: 250, interfaces: [0: 250],
                                                 endpoints: [.init(0, 0, 0x81, 0, 0, 0), .init(0, 0, 0x02, 0, 0, 0),
                                                             .init(0, 0, 0x83, 8, 32_000, 250)])],
    ]
}
