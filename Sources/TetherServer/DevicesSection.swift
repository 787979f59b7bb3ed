import Controller
import Foundation
import TetherModel

/// `controller.devices`: what devices need beyond their descriptors, and what the controller
/// does when a forwarded one outgrows its channel.
public struct DevicesSection: Sendable, Equatable, Decodable {
    /// `auto` migrates the VM to the device, `advise` says so in status and events, `off` ignores it.
    public var rebalance: RebalancePolicy = .advise
    /// How long the observed need must stay above the VM's migrate threshold.
    public var rebalanceAfterSeconds: Double = 30
    /// The observed figure is the peak of one-second rates within this window.
    public var windowSeconds: Double = 60
    /// `VID:PID: bytes per second`: the bulk need of a product before any traffic was seen
    /// (an SDR, a modem, a mass-storage stick reserve no periodic bandwidth at all).
    public var profiles: [String: Int] = [:]

    enum CodingKeys: String, CodingKey, CaseIterable { case rebalance, rebalanceAfterSeconds, windowSeconds, profiles }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .rebalance) {
            guard let policy = RebalancePolicy(rawValue: text) else {
                throw DecodingError.dataCorruptedError(forKey: .rebalance, in: c, debugDescription: "rebalance '\(text)' is not auto, advise or off")
            }
            rebalance = policy
        }
        rebalanceAfterSeconds = try c.decodeIfPresent(Double.self, forKey: .rebalanceAfterSeconds) ?? rebalanceAfterSeconds
        windowSeconds = try c.decodeIfPresent(Double.self, forKey: .windowSeconds) ?? windowSeconds
        guard rebalanceAfterSeconds >= 0, windowSeconds >= 1 else {
            throw DecodingError.dataCorruptedError(forKey: .windowSeconds, in: c,
                                                   debugDescription: "rebalanceAfterSeconds must be 0 or more and windowSeconds 1 or more")
        }
        var checked: [String: Int] = [:]
        for (key, value) in try c.decodeIfPresent([String: Int].self, forKey: .profiles) ?? [:] {
            guard case .product(let vendor, let product, nil)? = try? DeviceSelector(parsing: key) else {
                throw DecodingError.dataCorruptedError(forKey: .profiles, in: c, debugDescription: "profile '\(key)' is not VID:PID (0bda:2838)")
            }
            guard value >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: .profiles, in: c, debugDescription: "profile '\(key)': \(value) bytes per second is negative")
            }
            guard value <= APILimits.bytesPerSecond else {
                throw DecodingError.dataCorruptedError(forKey: .profiles, in: c, debugDescription:
                    "profile '\(key)': \(value) bytes per second is more than any device moves (at most \(APILimits.bytesPerSecond))")
            }
            checked["\(vendor):\(product)"] = value
        }
        profiles = checked
    }

    var settings: Controller.DeviceSettings {
        Controller.DeviceSettings(rebalance: rebalance, rebalanceAfter: rebalanceAfterSeconds, window: windowSeconds, profiles: profiles)
    }
}
