/// How a request names a device: `VID:PID` (any matching device), `VID:PID:SERIAL` (that one
/// device), or `HOST/PORT` (whatever is plugged into that port of that host).
public enum DeviceSelector: Sendable, Hashable, CustomStringConvertible {
    case product(vendorId: String, productId: String, serial: String?)
    case port(DeviceRef)

    public init(parsing text: String) throws(TetherError) {
        let help = "use VID:PID (046d:0825), VID:PID:SERIAL, or HOST/PORT (host-b/1-3)"
        // On the bytes, not Characters: every attach request is parsed here.
        let parts = text.utf8.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false).map { String(Substring($0)) }
        // VID:PID first: a serial may hold a '/', a host name never holds a ':'.
        let isProduct = parts.count >= 2 && Self.hex4(parts[0]) != nil && Self.hex4(parts[1]) != nil
        if text.utf8.contains(UInt8(ascii: "/")) && !isProduct {
            guard let ref = DeviceRef(text) else { throw TetherError(.invalidArgument, "device '\(text)' is not HOST/PORT; \(help)") }
            self = .port(ref)
            return
        }
        guard parts.count >= 2, let vendor = Self.hex4(parts[0]), let product = Self.hex4(parts[1]) else {
            throw TetherError(.invalidArgument, "device '\(text)' is not a selector; \(help)")
        }
        if parts.count == 3, parts[2].isEmpty { throw TetherError(.invalidArgument, "device '\(text)': the serial after the second ':' is empty") }
        self = .product(vendorId: vendor, productId: product, serial: parts.count == 3 ? parts[2] : nil)
    }

    /// Four hex digits, lowercased (as lsusb and sysfs print them).
    public static func hex4(_ text: String) -> String? {
        let bytes = text.utf8
        guard bytes.count == 4, bytes.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return String(decoding: bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    public var description: String {
        switch self {
        case .product(let vendor, let product, let serial): "\(vendor):\(product)" + (serial.map { ":\($0)" } ?? "")
        case .port(let ref): ref.description
        }
    }

    /// Whether a device registered on `host` is one this selector names.
    public func matches(_ device: RegisteredDevice, on host: String) -> Bool {
        switch self {
        case .port(let ref): ref.host == host && ref.id == device.id
        case .product(let vendor, let product, let serial):
            device.vendorId?.lowercased() == vendor && device.productId?.lowercased() == product
                && (serial == nil || device.serial == serial)
        }
    }
}

extension DeviceSelector: TextCoded {
    public init(text: String) throws(TetherError) { try self.init(parsing: text) }
}
