/// What the host knows about one device, gathered from libusb (and sysfs where libusb reads it
/// too), before any figure is computed. Keeping this a plain value makes the figures a pure
/// function of it.
public struct DeviceFacts: Sendable, Equatable {
    /// Where the configuration descriptors came from.
    public enum Descriptors: Sendable, Equatable {
        /// The device's raw bytes (device descriptor + configurations), parsed here as the kernel parses them.
        case raw([UInt8])
        /// libusb's own parse, where the raw bytes cannot be read (non-Linux hosts).
        case parsed(DeviceDescriptor, [ConfigurationDescriptor])
    }

    public var bus: Int
    public var address: Int
    /// Hub port numbers from the root hub down; empty for a root hub.
    public var portNumbers: [Int]
    public var speed: USBSpeed?
    /// bConfigurationValue; nil when the device is not configured.
    public var activeConfiguration: Int?
    /// IDs from enumeration, used when the descriptors themselves cannot be read.
    public var vendorID: Int
    public var productID: Int
    public var descriptors: Descriptors
    public var manufacturer: String?
    public var product: String?
    public var serial: String?
    /// Notes from enumeration (for example: libusb could not list the device).
    public var notes: [String]

    public init(
        bus: Int, address: Int, portNumbers: [Int], speed: USBSpeed?, activeConfiguration: Int?,
        vendorID: Int, productID: Int, descriptors: Descriptors,
        manufacturer: String? = nil, product: String? = nil, serial: String? = nil, notes: [String] = []
    ) {
        self.bus = bus
        self.address = address
        self.portNumbers = portNumbers
        self.speed = speed
        self.activeConfiguration = activeConfiguration
        self.vendorID = vendorID
        self.productID = productID
        self.descriptors = descriptors
        self.manufacturer = manufacturer
        self.product = product
        self.serial = serial
        self.notes = notes
    }

    /// `BUS-PORT.PORT...`, as Linux names the device in sysfs; a root hub is `BUS-0`, its devpath.
    public var portPath: String {
        "\(bus)-" + (portNumbers.isEmpty ? "0" : portNumbers.map(String.init).joined(separator: "."))
    }
}
