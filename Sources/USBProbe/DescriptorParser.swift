/// A parser for the raw descriptor bytes a USB device reports: the device descriptor followed by
/// each configuration's full descriptor set, the layout of Linux's sysfs `descriptors` file and
/// of a usbfs node.
///
/// The figure is the bandwidth the host reserves, so where descriptors are broken this parser
/// configures what Linux's USB core (drivers/usb/core/config.c) configures, and says with a
/// warning, at which byte, what it skipped: cheap devices ship quirky descriptors and work,
/// because the kernel is lenient. A configuration shorter than its wTotalLength is parsed as far
/// as its bytes go; a descriptor with a bLength under 2, or one that runs past the end, ends the
/// configuration there (what came before it counts); counts that disagree with the descriptors
/// present give way to what is present. Only a configuration whose 9-byte header cannot be read
/// is an error: then there is nothing the host would configure.
///
/// Why not libusb's parsed descriptors: libusb refuses a whole configuration over a bLength
/// under 2 that the kernel steps past, and says nothing about what it dropped.
public enum DescriptorParser {
    public struct Result: Sendable, Equatable {
        public var device: DeviceDescriptor?
        /// Every configuration whose header could be read, as the host would configure it.
        public var configurations: [ConfigurationDescriptor]
        public var issues: [DescriptorIssue]
    }

    static let deviceType: UInt8 = 0x01
    static let configurationType: UInt8 = 0x02
    static let interfaceType: UInt8 = 0x04
    static let endpointType: UInt8 = 0x05
    static let superSpeedCompanionType: UInt8 = 0x30
    static let superSpeedPlusIsochronousCompanionType: UInt8 = 0x31

    /// The size of each descriptor the figures read (USB 2.0 9.6, USB 3.2 9.6.7-9.6.8).
    static let interfaceLength = 9, endpointLength = 7, companionLength = 6, plusCompanionLength = 8

    /// Parses a device descriptor followed by its configurations.
    public static func parseDevice(_ bytes: [UInt8]) -> Result {
        var result = Result(device: nil, configurations: [], issues: [])
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
                    result.configurations.append(configuration)
                }
            }
            // A configuration header we cannot read leaves no way to find the next one.
            guard parsed.configuration != nil else { break }
            offset += extent
        }
        if result.configurations.count != Int(device.configurationCount) {
            result.issues.append(.init(.warning, "bNumConfigurations is \(device.configurationCount) but "
                                       + "\(result.configurations.count) configuration(s) were found"))
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
    }

    /// Parses one configuration's descriptors as the kernel's usb_parse_configuration does;
    /// `base` is where they start in the device's bytes, so that messages point at the right byte.
    static func parseConfiguration(_ bytes: [UInt8], at base: Int) -> ConfigurationParse {
        var parse = ConfigurationParse()
        guard bytes.count >= 9 else {
            parse.issues.append(.init(.error, "configuration descriptor at byte \(base) is cut short: \(bytes.count) bytes, it needs 9"))
            return parse
        }
        // usb_parse_configuration refuses a header that is not one, or whose bLength runs past
        // the configuration: then nothing of it is configured.
        guard bytes[1] == configurationType, bytes[0] >= 9, Int(bytes[0]) <= bytes.count else {
            parse.issues.append(.init(.error, "expected a configuration descriptor at byte \(base), "
                                      + "found bLength \(bytes[0]), bDescriptorType \(hex(bytes[1]))"))
            return parse
        }
        let value = bytes[5]
        let totalLength = Int(le16(bytes, 2))
        var configuration = ConfigurationDescriptor(value: value, attributes: bytes[7], maxPower: bytes[8],
                                                    declaredInterfaceCount: bytes[4], alternateSettings: [])
        func warn(_ message: String) {
            parse.issues.append(.init(.warning, configuration: value, message))
        }

        // The kernel first finds where the descriptors stop being readable (a bLength under 2,
        // one that runs past the end) and configures only what comes before that point.
        var end = Int(bytes[0])
        while end < bytes.count {
            let at = base + end
            let remaining = bytes.count - end
            guard remaining >= 2 else {
                warn("a stray byte at byte \(at) where a descriptor should start (truncated); ignored, as the host ignores it")
                break
            }
            let length = Int(bytes[end])
            guard length >= 2 else {
                warn("descriptor at byte \(at) has bLength \(length); it and the \(remaining) byte(s) from it on are skipped, "
                     + "as the host skips them")
                break
            }
            guard length <= remaining else {
                warn("descriptor \(hex(bytes[end + 1])) at byte \(at) claims \(length) bytes but only \(remaining) remain (truncated); "
                     + "it and the rest of the configuration are skipped, as the host skips them")
                break
            }
            end += length
        }

        var position = Int(bytes[0])
        var current: Int?                       // index of the alternate setting being filled
        var previousWasEndpoint = false
        while position < end {
            let at = base + position
            let remaining = end - position
            let length = Int(bytes[position])
            let type = bytes[position + 1]
            let d = Array(bytes[position..<(position + length)])
            var isEndpoint = false
            switch type {
            case interfaceType where length < interfaceLength:
                // usb_parse_interface skips a short interface and everything up to the next one.
                warn("interface descriptor at byte \(at) has bLength \(length); it needs \(interfaceLength). "
                     + "It and its endpoints are skipped, as the host skips them")
                current = nil
            case interfaceType:
                let alternate = InterfaceDescriptor(number: d[2], alternateSetting: d[3], interfaceClass: d[5], interfaceSubclass: d[6],
                                                    interfaceProtocol: d[7], declaredEndpointCount: d[4], endpoints: [])
                if configuration.alternateSettings.contains(where: { $0.number == d[2] && $0.alternateSetting == d[3] }) {
                    warn("interface \(d[2]) alternate setting \(d[3]) at byte \(at) is a duplicate; it and its endpoints are ignored")
                    current = nil
                } else {
                    configuration.alternateSettings.append(alternate)
                    current = configuration.alternateSettings.count - 1
                }
            case endpointType where length < endpointLength:
                warn("endpoint descriptor at byte \(at) has bLength \(length); it needs \(endpointLength). "
                     + "It is skipped, as the host skips it")
            case endpointType:
                let endpoint = EndpointDescriptor(address: d[2], attributes: d[3], maxPacketSize: le16(d, 4), interval: d[6])
                if let current {
                    configuration.alternateSettings[current].endpoints.append(endpoint)
                    isEndpoint = true
                } else {
                    warn("endpoint \(hex(d[2])) at byte \(at) belongs to no interface; ignored, as the host ignores it")
                }
            case superSpeedCompanionType:
                guard previousWasEndpoint, let current, let last = configuration.alternateSettings[current].endpoints.indices.last else {
                    warn("SuperSpeed endpoint companion at byte \(at) does not follow an endpoint; ignored")
                    break
                }
                // The kernel checks the bytes left, not bLength: it copies the companion's six
                // bytes whenever six remain, and without them the endpoint has no companion.
                guard remaining >= companionLength else {
                    warn("SuperSpeed endpoint companion at byte \(at) is cut short: \(remaining) bytes, it needs \(companionLength); "
                         + "the endpoint is figured without one, as the host does")
                    break
                }
                if length < companionLength {
                    warn("SuperSpeed endpoint companion at byte \(at) has bLength \(length); it needs \(companionLength). "
                         + "Its \(companionLength) bytes are read anyway, as the host reads them")
                }
                configuration.alternateSettings[current].endpoints[last].companion =
                    SuperSpeedCompanion(maxBurst: bytes[position + 2], attributes: bytes[position + 3],
                                        bytesPerInterval: le16(bytes, position + 4))
            case superSpeedPlusIsochronousCompanionType:
                isEndpoint = previousWasEndpoint
                guard let current, let last = configuration.alternateSettings[current].endpoints.indices.last,
                      configuration.alternateSettings[current].endpoints[last].companion != nil else {
                    warn("SuperSpeedPlus isochronous companion at byte \(at) does not follow a SuperSpeed companion; ignored")
                    break
                }
                guard remaining >= plusCompanionLength else {
                    warn("SuperSpeedPlus isochronous companion at byte \(at) is cut short: \(remaining) bytes, "
                         + "it needs \(plusCompanionLength); ignored, as the host ignores it")
                    break
                }
                if length < plusCompanionLength {
                    warn("SuperSpeedPlus isochronous companion at byte \(at) has bLength \(length); it needs \(plusCompanionLength). "
                         + "Its \(plusCompanionLength) bytes are read anyway, as the host reads them")
                }
                configuration.alternateSettings[current].endpoints[last].companion?.plusIsochronousBytesPerInterval =
                    le32(bytes, position + 4)
            default:
                // Class-specific (UVC, audio, HID), association and vendor descriptors carry no
                // bandwidth the host reserves; they are stepped over by their bLength.
                break
            }
            previousWasEndpoint = isEndpoint || (type == superSpeedCompanionType && previousWasEndpoint)
            position += length
        }

        if totalLength > bytes.count {
            // usb_get_configuration takes the bytes the device returned when they are fewer than
            // wTotalLength promised, and parses those.
            warn("wTotalLength \(totalLength) runs past the \(bytes.count) bytes present (truncated); "
                 + "the configuration is parsed as far as its bytes go, as the host parses it")
        } else if totalLength < bytes.count {
            warn("wTotalLength \(totalLength) is less than the \(bytes.count) bytes before the next configuration; "
                 + "all \(bytes.count) were read")
        }
        for alternate in configuration.alternateSettings where alternate.endpoints.count != Int(alternate.declaredEndpointCount) {
            // The kernel uses the endpoints it finds, so the figure follows them.
            let found = alternate.endpoints.count
            warn("interface \(alternate.number) alternate setting \(alternate.alternateSetting) declares "
                 + "\(alternate.declaredEndpointCount) endpoint(s) but \(found) follow; the \(found) present are used")
        }
        let interfaceCount = Set(configuration.alternateSettings.map(\.number)).count
        if interfaceCount != Int(configuration.declaredInterfaceCount) {
            warn("bNumInterfaces is \(configuration.declaredInterfaceCount) but \(interfaceCount) interface(s) are present; "
                 + "the \(interfaceCount) present are used")
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
