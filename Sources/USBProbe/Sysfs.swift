import Foundation

/// Linux's view of the USB tree under /sys/bus/usb/devices: the same files libusb's Linux
/// backend reads. It gives the raw descriptor bytes, the kernel's cached strings, and the devices
/// libusb refused to list because their descriptors did not parse.
struct SysfsUSB: Sendable {
    var root: String = "/sys/bus/usb/devices"

    /// The sysfs name of a device: `usb1` for a root hub, `1-1.5.2` for the rest.
    static func name(bus: Int, portNumbers: [Int]) -> String {
        portNumbers.isEmpty ? "usb\(bus)" : "\(bus)-" + portNumbers.map(String.init).joined(separator: ".")
    }

    /// The sysfs name for a device's port path (`1-0` is the root hub `usb1`).
    static func name(bus: Int, portPath: String) -> String {
        portPath == "\(bus)-0" ? "usb\(bus)" : portPath
    }

    func attribute(_ device: String, _ name: String) -> String? {
        guard let bytes = Self.read("\(root)/\(device)/\(name)") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    func descriptors(_ device: String) -> [UInt8]? {
        Self.read("\(root)/\(device)/descriptors")
    }

    /// A whole small file with plain open/read: sysfs files are at most a few kilobytes, and
    /// this runs for every device on every probe.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? result : nil }
            result += chunk.prefix(n)
        }
    }

    /// The USB device entries (not interfaces, whose names hold a colon).
    func deviceNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { !$0.contains(":") && ($0.hasPrefix("usb") || $0.first?.isNumber == true) }.sorted()
    }

    /// Port numbers from a sysfs name: `1-1.5.2` -> [1, 5, 2]; `usb1` -> [].
    static func portNumbers(fromName name: String) -> [Int] {
        guard !name.hasPrefix("usb"), let dash = name.firstIndex(of: "-") else { return [] }
        return name[name.index(after: dash)...].split(separator: ".").compactMap { Int($0) }
    }

    /// Facts for a device known only to sysfs: libusb did not list it.
    func facts(forUnlisted name: String) -> DeviceFacts? {
        guard let bus = attribute(name, "busnum").flatMap({ Int($0) }),
              let address = attribute(name, "devnum").flatMap({ Int($0) }) else { return nil }
        return DeviceFacts(
            bus: bus, address: address, portNumbers: Self.portNumbers(fromName: name),
            speed: attribute(name, "speed").flatMap(USBSpeed.init(sysfsSpeed:)),
            activeConfiguration: attribute(name, "bConfigurationValue").flatMap { Int($0) },
            vendorID: attribute(name, "idVendor").flatMap { Int($0, radix: 16) } ?? 0,
            productID: attribute(name, "idProduct").flatMap { Int($0, radix: 16) } ?? 0,
            descriptors: .raw(descriptors(name) ?? []),
            manufacturer: attribute(name, "manufacturer"), product: attribute(name, "product"), serial: attribute(name, "serial"),
            notes: ["libusb did not list this device (it could not use its descriptors); they were read from sysfs"]
        )
    }
}
