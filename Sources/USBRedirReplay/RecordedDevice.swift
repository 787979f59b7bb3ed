import Foundation
import USBProbe

/// A device of a umockdev recording, found by usbredirect's names for it (`BUS-ADDRESS` or
/// `VID:PID`): its raw descriptors and speed, what a usbredir peer announces.
public struct RecordedDevice: Sendable, Equatable {
    public var descriptors: [UInt8]
    public var speed: USBSpeed

    /// The device `selector` names in `recording` (umockdev's text format), or nil.
    public static func find(_ selector: String, in recording: String) -> RecordedDevice? {
        let byProduct = selector.contains(":")
        let parts = selector.split(separator: byProduct ? ":" : "-").map { $0.lowercased() }
        guard parts.count == 2 else { return nil }
        for block in recording.components(separatedBy: "\n\n") {
            var attributes: [String: String] = [:]
            var hex: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("A: "), let eq = line.firstIndex(of: "=") {
                    let key = String(line[line.index(line.startIndex, offsetBy: 3)..<eq])
                    attributes[key] = String(line[line.index(after: eq)...]).replacingOccurrences(of: "\\n", with: "").trimmingCharacters(in: .whitespaces)
                } else if line.hasPrefix("H: descriptors=") {
                    hex = String(line.dropFirst("H: descriptors=".count))
                }
            }
            let matches = byProduct
                ? attributes["idVendor"]?.lowercased() == parts[0] && attributes["idProduct"]?.lowercased() == parts[1]
                : attributes["busnum"] == parts[0] && attributes["devnum"] == parts[1]
            guard matches, let hex, let bytes = Self.bytes(hex: hex) else { continue }
            return RecordedDevice(descriptors: bytes, speed: attributes["speed"].flatMap(USBSpeed.init(sysfsSpeed:)) ?? .full)
        }
        return nil
    }

    /// Hex digits (as umockdev writes descriptors) to bytes; nil for anything else.
    public static func bytes(hex: String) -> [UInt8]? {
        let characters = Array(hex.trimmingCharacters(in: .whitespaces).utf8)
        guard characters.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(characters.count / 2)
        var i = 0
        while i < characters.count {
            guard let byte = UInt8(String(decoding: characters[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
            i += 2
        }
        return out
    }
}
