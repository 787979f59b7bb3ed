import Foundation
import USBRedirReplay

/// umockdev's text format (`umockdev-record` output): blocks of `P:` (sysfs path), `N:` (device
/// node and contents), `E:` (udev properties), `A:` (attributes), `H:` (binary attributes as hex)
/// and `L:` (links), one block per device, separated by blank lines.
public struct UMockdevRecording: Sendable {
    public struct Block: Sendable {
        public var lines: [String]

        public var syspath: String { value("P:") ?? "" }

        public func value(_ prefix: String) -> String? {
            lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) }
        }

        /// An `A:` attribute, with umockdev's `\n` escape removed.
        public func attribute(_ name: String) -> String? {
            lines.first { $0.hasPrefix("A: \(name)=") }.map {
                String($0.dropFirst("A: \(name)=".count)).replacingOccurrences(of: "\\n", with: "").trimmingCharacters(in: .whitespaces)
            }
        }

        /// The raw descriptor bytes of a USB device block (its `H: descriptors=` line).
        public var descriptors: [UInt8]? {
            lines.first { $0.hasPrefix("H: descriptors=") }.flatMap { UMockdevRecording.bytes(hex: String($0.dropFirst("H: descriptors=".count))) }
        }

        public var isUSBDevice: Bool { descriptors != nil && (value("E: DEVTYPE=") == "usb_device" || attribute("busnum") != nil) }
    }

    public var blocks: [Block]

    public init(text: String) {
        blocks = text.components(separatedBy: "\n\n").map { chunk in
            Block(lines: chunk.split(separator: "\n").map(String.init))
        }.filter { !$0.lines.isEmpty }
    }

    public init(blocks: [Block]) {
        self.blocks = blocks
    }

    public init(contentsOf url: URL) throws {
        self.init(text: try String(contentsOf: url, encoding: .utf8))
    }

    public var text: String { blocks.map { $0.lines.joined(separator: "\n") }.joined(separator: "\n\n") + "\n" }

    public var usbDevices: [Block] { blocks.filter(\.isUSBDevice) }

    public static func bytes(hex: String) -> [UInt8]? { RecordedDevice.bytes(hex: hex) }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined()
    }

    /// A USB device block, as umockdev-record writes one, for synthetic recordings (bad
    /// descriptors, many devices). `ports` is the hub path below the root hub, e.g. [1, 5, 2].
    public static func deviceBlock(bus: Int, address: Int, ports: [Int], speed: String, descriptors: [UInt8],
                                   configurationValue: Int? = 1, pciSlot: String = "0000:00:14.0") -> Block {
        let busName = "usb\(bus)"
        var path = "/devices/pci0000:00/\(pciSlot)/\(busName)"
        var prefix = "\(bus)-"
        for (i, port) in ports.enumerated() {
            prefix += (i == 0 ? "" : ".") + "\(port)"
            path += "/\(prefix)"
        }
        let node = String(format: "bus/usb/%03d/%03d", bus, address)
        let hexBytes = hex(descriptors)
        let vendor = descriptors.count >= 12 ? String(format: "%04x", Int(descriptors[8]) | Int(descriptors[9]) << 8) : "0000"
        let product = descriptors.count >= 12 ? String(format: "%04x", Int(descriptors[10]) | Int(descriptors[11]) << 8) : "0000"
        let lines = [
            "P: \(path)",
            "N: \(node)=\(hexBytes)",
            "E: BUSNUM=\(String(format: "%03d", bus))",
            "E: DEVNAME=/dev/\(node)",
            "E: DEVNUM=\(String(format: "%03d", address))",
            "E: DEVTYPE=usb_device",
            "E: DRIVER=usb",
            "E: SUBSYSTEM=usb",
            "A: bConfigurationValue=\(configurationValue.map(String.init) ?? "")\\n",
            "A: busnum=\(bus)\\n",
            "A: devnum=\(address)\\n",
            "A: idVendor=\(vendor)\\n",
            "A: idProduct=\(product)\\n",
            "A: speed=\(speed)\\n",
            "A: devpath=\(ports.isEmpty ? "0" : ports.map(String.init).joined(separator: "."))\\n",
            "H: descriptors=\(hexBytes)",
        ]
        return Block(lines: lines)
    }

    /// A high-speed root hub (Linux's EHCI/xHCI root hub descriptors) and its PCI parent.
    public static func rootHub(bus: Int, pciSlot: String = "0000:00:14.0") -> [Block] {
        let bytes = Self.bytes(hex: "12010002090001406B1D020006010302010109021900010100E0000904000001090000000705810304000C") ?? []
        return [deviceBlock(bus: bus, address: 1, ports: [], speed: "480", descriptors: bytes, pciSlot: pciSlot),
                Block(lines: ["P: /devices/pci0000:00/\(pciSlot)", "E: SUBSYSTEM=pci"])]
    }

    public func write(to url: URL) throws {
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
}
