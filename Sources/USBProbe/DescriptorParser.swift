/// A strict parser for the raw descriptor bytes a USB device reports: the device descriptor
/// followed by each configuration's full descriptor set, the layout of Linux's sysfs
/// `descriptors` file and of a usbfs node.
///
/// Why not libusb's parsed descriptors: when a configuration is cut short, libusb quietly lowers
/// bNumEndpoints to what it could read, and a figure built on that would be silently low. Here
/// every irregularity is reported with its byte offset, and a configuration whose bytes are
/// missing is marked unusable instead of being guessed at.
///
/// Rule of thumb: where the host's USB core settles a case (an endpoint count that disagrees
/// with the descriptors present, a stray endpoint outside any interface), the parser does the
/// same and warns; where bytes are missing (a cut descriptor, a wTotalLength past the end) it
/// reports an error, because the missing bytes may hold alternate settings no count declares.
public enum DescriptorParser {
    public struct Result: Sendable, Equatable {
        public var device: DeviceDescriptor?
        public var configurations: [ConfigurationDescriptor]
        public var issues: [DescriptorIssue]
        /// bConfigurationValues whose descriptors are incomplete or malformed.
        public var unusableConfigurations: Set<UInt8>

        public func isUsable(_ configuration: ConfigurationDescriptor) -> Bool {
            !unusableConfigurations.contains(configuration.value)
        }
    }

    static let deviceType: UInt8 = 0x01
    static let configurationType: UInt8 = 0x02
    static let interfaceType: UInt8 = 0x04
    static let endpointType: UInt8 = 0x05
    static let superSpeedCompanionType: UInt8 = 0x30
    static let superSpeedPlusIsochronousCompanionType: UInt8 = 0x31

    /// The shortest each descriptor the figures read may be (USB 2.0 9.6, USB 3.2 9.6.7-9.6.8).
    static let minimumLengths: [UInt8: (Int, String)] = [
        interfaceType: (9, "interface descriptor"),
        endpointType: (7, "endpoint descriptor"),
        superSpeedCompanionType: (6, "SuperSpeed endpoint companion"),
        superSpeedPlusIsochronousCompanionType: (8, "SuperSpeedPlus isochronous companion"),
    ]

    /// Parses a device descriptor followed by its configurations.
    public static func parseDevice(_ bytes: [UInt8]) -> Result {
        var result = Result(device: nil, configurations: [], issues: [], unusableConfigurations: [])
        guard bytes.count >= 18 else {
            result.issues.append(.init(.error, "device descriptor is \(bytes.count) bytes long; it needs 18"))
            return result
        }
        guard bytes[1] == deviceType, bytes[0] >= 18 else {
            result.issues.append(.init(.error, "not a device descriptor: bLength \(bytes[0]), bDescriptorType \(hex(bytes[1]))"))
            return result
        }
        let device = DeviceDescriptor(
            usbVersion: le16(bytes, 2), deviceClass: bytes[4], deviceSubclass: bytes[5], deviceProtocol: bytes[6],
            maxPacketSize0: bytes[7], vendorID: le16(bytes, 8), productID: le16(bytes, 10), deviceVersion: le16(bytes, 12),
            manufacturerIndex: bytes[14], productIndex: bytes[15], serialNumberIndex: bytes[16], configurationCount: bytes[17]
        )
        result.device = device
        var offset = Int(bytes[0])
        guard offset <= bytes.count else {
            result.issues.append(.init(.error, "device descriptor's bLength \(bytes[0]) runs past the \(bytes.count) bytes present"))
            return result
        }
        while offset < bytes.count {
            let extent = configurationExtent(bytes, at: offset)
            let parsed = parseConfiguration(Array(bytes[offset..<(offset + extent)]), at: offset)
            result.issues += parsed.issues
            if let configuration = parsed.configuration {
                if result.configurations.contains(where: { $0.value == configuration.value }) {
                    result.issues.append(.init(.warning, configuration: configuration.value,
                                               "a second configuration with this bConfigurationValue at byte \(offset) is ignored"))
                } else {
                    if !parsed.isComplete { result.unusableConfigurations.insert(configuration.value) }
                    result.configurations.append(configuration)
                }
            }
            // A configuration header we cannot read leaves no way to find the next one.
            guard parsed.configuration != nil else { break }
            offset += extent
        }
        if result.configurations.count != Int(device.configurationCount) {
            result.issues.append(.init(.warning, "bNumConfigurations is \(device.configurationCount) but \(result.configurations.count) configuration(s) were found"))
        }
        return result
    }

    /// How many bytes from `offset` belong to the configuration that starts there: up to the next
    /// configuration descriptor, the end of the bytes, or (for a malformed descriptor that stops
    /// the walk) everything that is left, so that the configuration's parser reports it.
    static func configurationExtent(_ bytes: [UInt8], at offset: Int) -> Int {
        guard offset + 2 <= bytes.count, bytes[offset] >= 2 else { return bytes.count - offset }
        var position = offset + Int(bytes[offset])
        while position < bytes.count {
            let length = Int(bytes[position])
            guard length >= 2, position + length <= bytes.count else { return bytes.count - offset }
            if bytes[position + 1] == configurationType { break }
            position += length
        }
        return min(position, bytes.count) - offset
    }

    struct ConfigurationParse {
        var configuration: ConfigurationDescriptor?
        var issues: [DescriptorIssue] = []
        var isComplete = true
    }

    /// Parses one configuration's descriptors; `base` is where they start in the device's bytes,
    /// so that messages point at the right byte.
    static func parseConfiguration(_ bytes: [UInt8], at base: Int) -> ConfigurationParse {
        var parse = ConfigurationParse()
        guard bytes.count >= 9 else {
            parse.issues.append(.init(.error, "configuration descriptor at byte \(base) is cut short: \(bytes.count) bytes, it needs 9"))
            parse.isComplete = false
            return parse
        }
        guard bytes[1] == configurationType, bytes[0] >= 9 else {
            parse.issues.append(.init(.error, "expected a configuration descriptor at byte \(base), found bLength \(bytes[0]), bDescriptorType \(hex(bytes[1]))"))
            parse.isComplete = false
            return parse
        }
        let value = bytes[5]
        let totalLength = Int(le16(bytes, 2))
        var configuration = ConfigurationDescriptor(value: value, attributes: bytes[7], maxPower: bytes[8],
                                                    declaredInterfaceCount: bytes[4], alternateSettings: [])
        func report(_ severity: DescriptorIssue.Severity, _ message: String) {
            parse.issues.append(.init(severity, configuration: value, message))
        }
        /// An error after which nothing further in this configuration can be trusted.
        func fail(_ message: String) {
            report(.error, message)
            parse.isComplete = false
        }

        var position = Int(bytes[0])
        var current: Int?                       // index of the alternate setting being filled
        var previousWasEndpoint = false
        while position < bytes.count {
            let at = base + position
            let remaining = bytes.count - position
            guard remaining >= 2 else {
                fail("a stray byte at byte \(at) where a descriptor should start (truncated)")
                break
            }
            let length = Int(bytes[position])
            let type = bytes[position + 1]
            guard length >= 2 else {
                fail("descriptor at byte \(at) has bLength \(length); the rest of the configuration cannot be read")
                break
            }
            guard length <= remaining else {
                fail("descriptor \(hex(type)) at byte \(at) claims \(length) bytes but only \(remaining) remain (truncated)")
                break
            }
            if let (minimum, name) = minimumLengths[type], length < minimum {
                fail("\(name) at byte \(at) has bLength \(length); it needs \(minimum)")
                break
            }
            let d = Array(bytes[position..<(position + length)])
            var isEndpoint = false
            switch type {
            case interfaceType:
                let alternate = InterfaceDescriptor(number: d[2], alternateSetting: d[3], interfaceClass: d[5], interfaceSubclass: d[6],
                                                    interfaceProtocol: d[7], declaredEndpointCount: d[4], endpoints: [])
                if configuration.alternateSettings.contains(where: { $0.number == d[2] && $0.alternateSetting == d[3] }) {
                    report(.warning, "interface \(d[2]) alternate setting \(d[3]) at byte \(at) is a duplicate; it and its endpoints are ignored")
                    current = nil
                } else {
                    configuration.alternateSettings.append(alternate)
                    current = configuration.alternateSettings.count - 1
                }
            case endpointType:
                let endpoint = EndpointDescriptor(address: d[2], attributes: d[3], maxPacketSize: le16(d, 4), interval: d[6])
                if let current {
                    configuration.alternateSettings[current].endpoints.append(endpoint)
                    isEndpoint = true
                } else {
                    report(.warning, "endpoint \(hex(d[2])) at byte \(at) belongs to no interface; ignored, as the host ignores it")
                }
            case superSpeedCompanionType:
                if previousWasEndpoint, let current {
                    configuration.alternateSettings[current].endpoints[configuration.alternateSettings[current].endpoints.count - 1].companion =
                        SuperSpeedCompanion(maxBurst: d[2], attributes: d[3], bytesPerInterval: le16(d, 4))
                } else {
                    report(.warning, "SuperSpeed endpoint companion at byte \(at) does not follow an endpoint; ignored")
                }
            case superSpeedPlusIsochronousCompanionType:
                if let current, let last = configuration.alternateSettings[current].endpoints.indices.last,
                   configuration.alternateSettings[current].endpoints[last].companion != nil {
                    configuration.alternateSettings[current].endpoints[last].companion?.plusIsochronousBytesPerInterval = le32(d, 4)
                } else {
                    report(.warning, "SuperSpeedPlus isochronous companion at byte \(at) does not follow a SuperSpeed companion; ignored")
                }
                isEndpoint = previousWasEndpoint
            default:
                // Class-specific (UVC, audio, HID), association and vendor descriptors carry no
                // bandwidth the host reserves; they are stepped over by their bLength.
                break
            }
            previousWasEndpoint = isEndpoint || (type == superSpeedCompanionType && previousWasEndpoint)
            position += length
        }

        if totalLength > bytes.count && parse.isComplete {
            // The host read fewer bytes than wTotalLength promised. What is missing may be whole
            // alternate settings, which no count declares, so no figure can be trusted.
            fail("wTotalLength \(totalLength) runs past the \(bytes.count) bytes present (truncated)")
        } else if totalLength < bytes.count {
            report(.warning, "wTotalLength \(totalLength) is less than the \(bytes.count) bytes before the next configuration; all \(bytes.count) were read")
        }
        for alternate in configuration.alternateSettings where alternate.endpoints.count != Int(alternate.declaredEndpointCount) {
            let found = alternate.endpoints.count
            let where_ = "interface \(alternate.number) alternate setting \(alternate.alternateSetting)"
            if parse.isComplete {
                // Linux's usb core uses the endpoints it finds, so the figure follows them.
                report(.warning, "\(where_) declares \(alternate.declaredEndpointCount) endpoint(s) but \(found) follow; the \(found) present are used")
            } else {
                report(.error, "\(where_) declares \(alternate.declaredEndpointCount) endpoint(s); only \(found) are present before the bytes end")
            }
        }
        let interfaceCount = Set(configuration.alternateSettings.map(\.number)).count
        if interfaceCount != Int(configuration.declaredInterfaceCount) {
            report(.warning, "bNumInterfaces is \(configuration.declaredInterfaceCount) but \(interfaceCount) interface(s) are present")
        }
        parse.configuration = configuration
        return parse
    }

    static func le16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    static func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(le16(bytes, at)) | UInt32(le16(bytes, at + 2)) << 16
    }
}

func hex(_ byte: UInt8) -> String {
    "0x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
}
