import CLibUSB
import TetherModel

/// One libusb context. Not shared between threads: each probe or watcher owns its own.
final class LibUSBContext {
    let pointer: OpaquePointer

    init() throws(TetherError) {
        var context: OpaquePointer?
        try check(libusb_init(&context), "initialise (is usbfs or /sys/bus/usb present?)")
        guard let context else { throw TetherError(.internalError, "libusb_init returned no context") }
        pointer = context
    }

    deinit { libusb_exit(pointer) }

    /// The devices libusb lists now, each referenced for the duration of `body`.
    func withDevices<T>(_ body: ([OpaquePointer]) throws -> T) throws -> T {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(pointer, &list)
        try check(Int32(clamping: count), "list USB devices")
        defer { libusb_free_device_list(list, 1) }
        guard let list else { return try body([]) }
        return try body((0..<Int(count)).compactMap { list[$0] })
    }
}

/// What to gather for each device.
public struct ProbeOptions: Sendable {
    /// Where configuration descriptors come from.
    public enum DescriptorSource: String, Sendable, CaseIterable {
        /// The raw bytes (sysfs, as libusb's Linux backend reads them), with libusb's parse as fallback.
        case auto
        /// libusb's own parse only: what a non-Linux host gets.
        case libusb
    }

    public var descriptorSource: DescriptorSource = .auto
    /// Open devices to read string descriptors where sysfs does not have them (non-Linux hosts).
    /// Off while watching hotplug events.
    public var openForStrings = true
    var sysfs = SysfsUSB()

    public init(descriptorSource: DescriptorSource = .auto, openForStrings: Bool = true) {
        self.descriptorSource = descriptorSource
        self.openForStrings = openForStrings
    }
}

extension DeviceFacts {
    /// Gathers the facts of one libusb device. Needs no I/O to the device itself except, when
    /// asked, string descriptors the kernel has not cached.
    init(device: OpaquePointer, context: OpaquePointer, options: ProbeOptions) throws(TetherError) {
        let bus = Int(libusb_get_bus_number(device))
        let address = Int(libusb_get_device_address(device))
        let portNumbers = Self.portNumbers(of: device)
        let name = SysfsUSB.name(bus: bus, portNumbers: portNumbers)

        var descriptor = libusb_device_descriptor()
        try check(libusb_get_device_descriptor(device, &descriptor), "read the device descriptor of device \(bus):\(address)")

        var active: UnsafeMutablePointer<libusb_config_descriptor>?
        let activeRC = libusb_get_active_config_descriptor(device, &active)
        var activeValue: Int?
        var notes: [String] = []
        if activeRC == 0, let active {
            activeValue = Int(active.pointee.bConfigurationValue)
            libusb_free_config_descriptor(active)
        } else if activeRC != Int32(LIBUSB_ERROR_NOT_FOUND.rawValue) {
            // libusb could not parse the configuration. The kernel still knows which one is
            // active, and the parser below configures what the kernel does and says what it skipped.
            activeValue = options.sysfs.attribute(name, "bConfigurationValue").flatMap { Int($0) }
            notes.append(LibUSBError.tetherError(activeRC, "parse the active configuration").description)
        }

        let sysfs = options.sysfs
        let raw = options.descriptorSource == .auto ? sysfs.descriptors(name) : nil
        let descriptors: Descriptors
        if let raw {
            descriptors = .raw(raw)
        } else {
            descriptors = .parsed(DeviceDescriptor(libusb: descriptor),
                                  try LibUSBConfigurations.read(device: device, context: context, count: Int(descriptor.bNumConfigurations)))
        }

        self.init(
            bus: bus, address: address, portNumbers: portNumbers,
            speed: USBSpeed(libusb: libusb_get_device_speed(device)) ?? sysfs.attribute(name, "speed").flatMap(USBSpeed.init(sysfsSpeed:)),
            activeConfiguration: activeValue,
            vendorID: Int(descriptor.idVendor), productID: Int(descriptor.idProduct), descriptors: descriptors,
            manufacturer: sysfs.attribute(name, "manufacturer"), product: sysfs.attribute(name, "product"),
            serial: sysfs.attribute(name, "serial"), notes: notes
        )
        // Where sysfs has the device, the kernel's cached strings are the answer: opening the
        // device would cost a round trip per string and wake it from autosuspend.
        if options.openForStrings && raw == nil {
            readStrings(device: device, descriptor: descriptor)
        }
    }

    /// Hub ports from the root hub down (USB allows at most 7 tiers); empty for a root hub.
    static func portNumbers(of device: OpaquePointer) -> [Int] {
        var ports = [UInt8](repeating: 0, count: 8)
        let count = libusb_get_port_numbers(device, &ports, Int32(ports.count))
        return count > 0 ? ports.prefix(Int(count)).map(Int.init) : []
    }

    /// Fills in strings the kernel has not cached by asking the device. Best effort: without
    /// permission or with a device that does not answer, the strings stay unknown.
    private mutating func readStrings(device: OpaquePointer, descriptor: libusb_device_descriptor) {
        guard descriptor.iManufacturer != 0 || descriptor.iProduct != 0 || descriptor.iSerialNumber != 0 else { return }
        var handle: OpaquePointer?
        guard libusb_open(device, &handle) == 0, let handle else { return }
        defer { libusb_close(handle) }
        func string(_ index: UInt8) -> String? {
            guard index != 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = libusb_get_string_descriptor_ascii(handle, index, &buffer, Int32(buffer.count))
            guard n > 0 else { return nil }
            return String(decoding: buffer.prefix(Int(n)), as: UTF8.self)
        }
        manufacturer = manufacturer ?? string(descriptor.iManufacturer)
        product = product ?? string(descriptor.iProduct)
        serial = serial ?? string(descriptor.iSerialNumber)
    }
}

extension USBSpeed {
    init?(libusb speed: Int32) {
        switch libusb_speed(UInt32(bitPattern: speed)) {
        case LIBUSB_SPEED_LOW: self = .low
        case LIBUSB_SPEED_FULL: self = .full
        case LIBUSB_SPEED_HIGH: self = .high
        case LIBUSB_SPEED_SUPER: self = .superSpeed
        case LIBUSB_SPEED_SUPER_PLUS: self = .superSpeedPlus
        default: return nil  // unknown, or newer than this libusb: sysfs is asked instead
        }
    }
}

extension DeviceDescriptor {
    init(libusb d: libusb_device_descriptor) {
        self.init(usbVersion: d.bcdUSB, deviceClass: d.bDeviceClass, deviceSubclass: d.bDeviceSubClass,
                  deviceProtocol: d.bDeviceProtocol, maxPacketSize0: d.bMaxPacketSize0, vendorID: d.idVendor,
                  productID: d.idProduct, deviceVersion: d.bcdDevice, manufacturerIndex: d.iManufacturer,
                  productIndex: d.iProduct, serialNumberIndex: d.iSerialNumber, configurationCount: d.bNumConfigurations)
    }
}
