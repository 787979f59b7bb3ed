import Foundation

/// The signalling rate a device was enumerated at. It picks which of the spec's bandwidth rules
/// applies, so it comes from the host (libusb), never from the device's bcdUSB.
public enum USBSpeed: String, Sendable, Codable, CaseIterable {
    case low, full, high, superSpeed, superSpeedPlus, superSpeedPlusX2

    /// The rate in Mbit/s, as `speedMbps` reports it (1.5 for low speed).
    public var megabitsPerSecond: Double {
        switch self {
        case .low: 1.5
        case .full: 12
        case .high: 480
        case .superSpeed: 5000
        case .superSpeedPlus: 10000
        case .superSpeedPlusX2: 20000
        }
    }

    /// The value of Linux's sysfs `speed` attribute, which also names these rates in Mbit/s.
    public init?(sysfsSpeed text: String) {
        switch text.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "1.5": self = .low
        case "12": self = .full
        case "480": self = .high
        case "5000": self = .superSpeed
        case "10000": self = .superSpeedPlus
        case "20000": self = .superSpeedPlusX2
        default: return nil
        }
    }

    /// Low and full speed count service intervals in 1 ms frames; the rest in 125 us microframes.
    var usesMicroframes: Bool { self != .low && self != .full }
    var isSuperSpeedOrAbove: Bool { self == .superSpeed || self == .superSpeedPlus || self == .superSpeedPlusX2 }
}
