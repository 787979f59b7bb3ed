import Foundation
import TetherModel

/// A USB device on this host (in a VM: the guest's view, a usb-redir device among them), as
/// sysfs lists it: what a container's device node is made from.
public struct LocalUSBDevice: Sendable, Equatable {
    public var name: String
    public var vendorId: String
    public var productId: String
    public var serial: String?
    public var bus: Int
    public var address: Int
    public var major: Int
    public var minor: Int

    /// Its node, as the kernel and libusb name it: `/dev/bus/usb/BBB/DDD`.
    public var node: String { String(format: "/dev/bus/usb/%03d/%03d", bus, address) }

    /// Every device under `root` (interfaces and hubs left out).
    public static func all(root: String = "/sys/bus/usb/devices") -> [LocalUSBDevice] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.sorted().compactMap { name in
            guard !name.contains(":") else { return nil }   // 1-3:1.0 is an interface
            func read(_ attribute: String) -> String? {
                (try? String(contentsOfFile: "\(root)/\(name)/\(attribute)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard let vendor = read("idVendor"), let product = read("idProduct"), read("bDeviceClass") != "09",
                  let bus = read("busnum").flatMap(Int.init), let address = read("devnum").flatMap(Int.init) else { return nil }
            let numbers = read("dev")?.split(separator: ":").compactMap { Int($0) } ?? []
            // USB device nodes are character major 189, minor (bus-1)*128 + (address-1), where
            // sysfs does not say.
            let (major, minor) = numbers.count == 2 ? (numbers[0], numbers[1]) : (189, (bus - 1) * 128 + address - 1)
            return LocalUSBDevice(name: name, vendorId: vendor.lowercased(), productId: product.lowercased(), serial: read("serial"),
                                  bus: bus, address: address, major: major, minor: minor)
        }
    }

    /// The device with this vendor, product and (when given) serial.
    public static func find(vendorId: String, productId: String, serial: String?, root: String = "/sys/bus/usb/devices") -> LocalUSBDevice? {
        all(root: root).first { $0.vendorId == vendorId.lowercased() && $0.productId == productId.lowercased() && (serial == nil || $0.serial == serial) }
    }
}
