import USBProbe

/// Builds descriptor bytes for tests: a device descriptor, then a configuration assembled from
/// parts, with wTotalLength computed unless a test wants it wrong.
public enum DescriptorBuilder {
    public static func device(vendor: UInt16 = 0x1234, product: UInt16 = 0x5678, configurations: UInt8 = 1) -> [UInt8] {
        [18, 1, 0x00, 0x02, 0, 0, 0, 64, UInt8(vendor & 0xFF), UInt8(vendor >> 8), UInt8(product & 0xFF), UInt8(product >> 8),
         0x00, 0x01, 0, 0, 0, configurations]
    }

    public static func configuration(value: UInt8 = 1, interfaces: UInt8, totalLength: Int? = nil, body: [UInt8]) -> [UInt8] {
        let total = totalLength ?? (9 + body.count)
        return [9, 2, UInt8(total & 0xFF), UInt8(total >> 8), interfaces, value, 0, 0x80, 50] + body
    }

    public static func interface(_ number: UInt8, alternate: UInt8 = 0, endpoints: UInt8, class interfaceClass: UInt8 = 0xFF) -> [UInt8] {
        [9, 4, number, alternate, endpoints, interfaceClass, 0, 0, 0]
    }

    public static func endpoint(_ address: UInt8, type: UInt8, maxPacketSize: UInt16, interval: UInt8) -> [UInt8] {
        [7, 5, address, type, UInt8(maxPacketSize & 0xFF), UInt8(maxPacketSize >> 8), interval]
    }

    public static func companion(maxBurst: UInt8, attributes: UInt8, bytesPerInterval: UInt16) -> [UInt8] {
        [6, 0x30, maxBurst, attributes, UInt8(bytesPerInterval & 0xFF), UInt8(bytesPerInterval >> 8)]
    }

    /// A full-speed serial adapter: bulk pair and an 8-byte interrupt endpoint every 1 ms.
    public static let serialAdapter: [UInt8] = device() + configuration(interfaces: 1, body:
        interface(0, endpoints: 3)
        + endpoint(0x82, type: 2, maxPacketSize: 32, interval: 0)
        + endpoint(0x02, type: 2, maxPacketSize: 32, interval: 0)
        + endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1))

    public static func report(_ bytes: [UInt8], speed: USBSpeed = .full, active: Int? = 1) -> DeviceReport {
        DeviceReport(facts: DeviceFacts(bus: 1, address: 4, portNumbers: [3], speed: speed, activeConfiguration: active,
                                        vendorID: 0x1234, productID: 0x5678, descriptors: .raw(bytes)))
    }
}
