/// `tether probe --json`: the schema of shared/spec/probe.md. The spec's keys come first; the
/// rest (strings, raw descriptor fields, warnings, errors) are additions a person debugging a
/// device wants next to the figures.
public struct ProbeReport: Codable, Sendable, Equatable {
    public var devices: [DeviceReport]

    public init(devices: [DeviceReport]) {
        self.devices = devices.sorted { ($0.bus, $0.address) < ($1.bus, $1.address) }
    }
}

public struct DeviceReport: Codable, Sendable, Equatable {
    public var bus: Int
    public var address: Int
    public var portPath: String
    public var vendorId: Int
    public var productId: Int
    /// nil when the host did not say (a device whose figures are then an error).
    public var speedMbps: Double?
    /// bConfigurationValue of the active configuration; nil when the device is unconfigured.
    public var configuration: Int?
    /// nil when the host could not configure the device (its device descriptor or its
    /// configuration's header cannot be read, or its speed is unknown): see `error`.
    public var periodicBytesPerSecond: Int?
    public var interfaces: [InterfaceReport]

    public var manufacturer: String?
    public var product: String?
    public var serial: String?
    public var usbVersion: String?
    public var deviceClass: Int?
    public var configurations: [ConfigurationSummary]
    public var warnings: [String]
    public var error: String?

    public init(
        bus: Int, address: Int, portPath: String, vendorId: Int, productId: Int, speedMbps: Double?,
        configuration: Int?, periodicBytesPerSecond: Int?, interfaces: [InterfaceReport],
        manufacturer: String? = nil, product: String? = nil, serial: String? = nil, usbVersion: String? = nil,
        deviceClass: Int? = nil, configurations: [ConfigurationSummary] = [], warnings: [String] = [], error: String? = nil
    ) {
        self.bus = bus
        self.address = address
        self.portPath = portPath
        self.vendorId = vendorId
        self.productId = productId
        self.speedMbps = speedMbps
        self.configuration = configuration
        self.periodicBytesPerSecond = periodicBytesPerSecond
        self.interfaces = interfaces
        self.manufacturer = manufacturer
        self.product = product
        self.serial = serial
        self.usbVersion = usbVersion
        self.deviceClass = deviceClass
        self.configurations = configurations
        self.warnings = warnings
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case bus, address, portPath, vendorId, productId, speedMbps, configuration, periodicBytesPerSecond, interfaces
        case manufacturer, product, serial, usbVersion, deviceClass, configurations, warnings, error
    }

    // The spec's keys are required, so an unknown value is written as null rather than left out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bus, forKey: .bus)
        try c.encode(address, forKey: .address)
        try c.encode(portPath, forKey: .portPath)
        try c.encode(vendorId, forKey: .vendorId)
        try c.encode(productId, forKey: .productId)
        try c.encode(speedMbps, forKey: .speedMbps)
        try c.encode(configuration, forKey: .configuration)
        try c.encode(periodicBytesPerSecond, forKey: .periodicBytesPerSecond)
        try c.encode(interfaces, forKey: .interfaces)
        try c.encodeIfPresent(manufacturer, forKey: .manufacturer)
        try c.encodeIfPresent(product, forKey: .product)
        try c.encodeIfPresent(serial, forKey: .serial)
        try c.encodeIfPresent(usbVersion, forKey: .usbVersion)
        try c.encodeIfPresent(deviceClass, forKey: .deviceClass)
        try c.encode(configurations, forKey: .configurations)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(error, forKey: .error)
    }

    /// `VID:PID` in the four-hex-digit form lsusb and udev use.
    public var id: String { "\(hex4(vendorId)):\(hex4(productId))" }
}

public struct InterfaceReport: Codable, Sendable, Equatable {
    public var number: Int
    /// The largest of its alternate settings' figures: a driver selects one at a time.
    public var periodicBytesPerSecond: Int
    public var alternates: [AlternateReport]
}

public struct AlternateReport: Codable, Sendable, Equatable {
    public var setting: Int
    public var interfaceClass: Int
    public var periodicBytesPerSecond: Int
    public var endpoints: [EndpointReport]
}

public struct EndpointReport: Codable, Sendable, Equatable {
    public var address: Int
    public var type: TransferType
    public var maxPacketSize: Int
    public var transactionsPerInterval: Int
    public var bytesPerInterval: Int
    public var intervalMicroseconds: Int
    public var bytesPerSecond: Int
    public var direction: String
    /// The descriptor's own fields, so a figure can be checked against `lsusb -v`.
    public var wMaxPacketSize: Int
    public var bInterval: Int
}

/// Every configuration the device offers, not only the active one: a device that could switch
/// to a heavier configuration is worth knowing about.
public struct ConfigurationSummary: Codable, Sendable, Equatable {
    public var value: Int
    public var interfaces: Int
    public var maxPowerMilliamps: Int
    public var periodicBytesPerSecond: Int?
}

func hex4(_ value: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
