/// USB descriptors as the device states them (USB 2.0 chapter 9, USB 3.2 chapter 9), before any
/// interpretation. Raw field values are kept so that every figure can be traced back to bytes.

/// The transfer type in bits 1..0 of an endpoint's bmAttributes.
public enum TransferType: String, Sendable, Codable, Equatable {
    case control, isochronous, bulk, interrupt

    init(attributes: UInt8) {
        switch attributes & 0x03 {
        case 0: self = .control
        case 1: self = .isochronous
        case 2: self = .bulk
        default: self = .interrupt
        }
    }

    /// Only these reserve bus time (USB 2.0 5.6-5.7, USB 3.2 9.6.7).
    public var isPeriodic: Bool { self == .isochronous || self == .interrupt }
}

/// The 18-byte device descriptor.
public struct DeviceDescriptor: Sendable, Equatable {
    public var usbVersion: UInt16
    public var deviceClass: UInt8
    public var deviceSubclass: UInt8
    public var deviceProtocol: UInt8
    public var maxPacketSize0: UInt8
    public var vendorID: UInt16
    public var productID: UInt16
    public var deviceVersion: UInt16
    public var manufacturerIndex: UInt8
    public var productIndex: UInt8
    public var serialNumberIndex: UInt8
    public var configurationCount: UInt8

    public init(
        usbVersion: UInt16, deviceClass: UInt8, deviceSubclass: UInt8, deviceProtocol: UInt8,
        maxPacketSize0: UInt8, vendorID: UInt16, productID: UInt16, deviceVersion: UInt16,
        manufacturerIndex: UInt8, productIndex: UInt8, serialNumberIndex: UInt8, configurationCount: UInt8
    ) {
        self.usbVersion = usbVersion
        self.deviceClass = deviceClass
        self.deviceSubclass = deviceSubclass
        self.deviceProtocol = deviceProtocol
        self.maxPacketSize0 = maxPacketSize0
        self.vendorID = vendorID
        self.productID = productID
        self.deviceVersion = deviceVersion
        self.manufacturerIndex = manufacturerIndex
        self.productIndex = productIndex
        self.serialNumberIndex = serialNumberIndex
        self.configurationCount = configurationCount
    }
}

/// The SuperSpeed endpoint companion (type 0x30) and, for SuperSpeedPlus isochronous endpoints,
/// the isochronous endpoint companion (type 0x31) that follows it.
public struct SuperSpeedCompanion: Sendable, Equatable {
    public var maxBurst: UInt8
    public var attributes: UInt8
    public var bytesPerInterval: UInt16
    /// dwBytesPerInterval of a SuperSpeedPlus isochronous companion, when the device has one.
    public var plusIsochronousBytesPerInterval: UInt32?

    public init(maxBurst: UInt8, attributes: UInt8, bytesPerInterval: UInt16, plusIsochronousBytesPerInterval: UInt32? = nil) {
        self.maxBurst = maxBurst
        self.attributes = attributes
        self.bytesPerInterval = bytesPerInterval
        self.plusIsochronousBytesPerInterval = plusIsochronousBytesPerInterval
    }
}

public struct EndpointDescriptor: Sendable, Equatable {
    public var address: UInt8
    public var attributes: UInt8
    /// wMaxPacketSize as stated: bits 10..0 size, 12..11 extra transactions (high speed), 15..13 reserved.
    public var maxPacketSize: UInt16
    public var interval: UInt8
    public var companion: SuperSpeedCompanion?

    public init(address: UInt8, attributes: UInt8, maxPacketSize: UInt16, interval: UInt8, companion: SuperSpeedCompanion? = nil) {
        self.address = address
        self.attributes = attributes
        self.maxPacketSize = maxPacketSize
        self.interval = interval
        self.companion = companion
    }

    public var transferType: TransferType { TransferType(attributes: attributes) }
    public var isInput: Bool { address & 0x80 != 0 }
}

/// One alternate setting of one interface.
public struct InterfaceDescriptor: Sendable, Equatable {
    public var number: UInt8
    public var alternateSetting: UInt8
    public var interfaceClass: UInt8
    public var interfaceSubclass: UInt8
    public var interfaceProtocol: UInt8
    /// bNumEndpoints as stated; `endpoints` holds those actually present.
    public var declaredEndpointCount: UInt8
    public var endpoints: [EndpointDescriptor]

    public init(
        number: UInt8, alternateSetting: UInt8, interfaceClass: UInt8, interfaceSubclass: UInt8,
        interfaceProtocol: UInt8, declaredEndpointCount: UInt8, endpoints: [EndpointDescriptor]
    ) {
        self.number = number
        self.alternateSetting = alternateSetting
        self.interfaceClass = interfaceClass
        self.interfaceSubclass = interfaceSubclass
        self.interfaceProtocol = interfaceProtocol
        self.declaredEndpointCount = declaredEndpointCount
        self.endpoints = endpoints
    }
}

public struct ConfigurationDescriptor: Sendable, Equatable {
    public var value: UInt8
    public var attributes: UInt8
    /// bMaxPower in the descriptor's units (2 mA below SuperSpeed, 8 mA at SuperSpeed).
    public var maxPower: UInt8
    public var declaredInterfaceCount: UInt8
    /// Every alternate setting of every interface, in descriptor order.
    public var alternateSettings: [InterfaceDescriptor]

    public init(value: UInt8, attributes: UInt8, maxPower: UInt8, declaredInterfaceCount: UInt8, alternateSettings: [InterfaceDescriptor]) {
        self.value = value
        self.attributes = attributes
        self.maxPower = maxPower
        self.declaredInterfaceCount = declaredInterfaceCount
        self.alternateSettings = alternateSettings
    }
}

/// Something wrong with a device's descriptors. An error means there is nothing the host would
/// configure (the device descriptor or a configuration's header cannot be read), so no figure;
/// a warning means the figure is what the host configures, and says what was skipped.
public struct DescriptorIssue: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable, Codable { case warning, error }

    public var severity: Severity
    /// The configuration it concerns (bConfigurationValue), or nil for the device descriptor.
    public var configuration: UInt8?
    public var message: String

    public init(_ severity: Severity, configuration: UInt8? = nil, _ message: String) {
        self.severity = severity
        self.configuration = configuration
        self.message = message
    }

    public var description: String {
        guard let configuration else { return message }
        return "configuration \(configuration): \(message)"
    }
}
