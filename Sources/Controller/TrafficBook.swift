import Foundation
import TetherModel

/// What forwarded devices were seen to use. Each heartbeat brings one-second rates from the
/// devices' hosts; a device's observed figure is the peak of those within the window, kept
/// (and saved) when the device is no longer forwarded, so that its next attach is decided on it.
/// Pure: time comes in with each sample.
struct TrafficBook {
    struct Sample {
        var at: Date
        var bytesPerSecond: Int
    }

    private(set) var samples: [DeviceRef: [Sample]] = [:]
    private(set) var observed: [DeviceRef: ObservedTraffic] = [:]
    /// What was last saved of each device, and when.
    private var saved: [DeviceRef: (peak: Int, at: Date)] = [:]

    init(loaded: [ObservedTraffic] = []) {
        for t in loaded {
            observed[t.device] = t
            saved[t.device] = (t.peakBytesPerSecond, t.lastAt)
        }
    }

    /// Records one rate; answers whether the device's peak changed (what placement decides on).
    @discardableResult
    mutating func record(_ device: DeviceRef, bytesPerSecond rate: Int, at time: Date, window: TimeInterval,
                         identity: DeviceSelector? = nil) -> Bool {
        if let known = observed[device]?.identity, known != identity { samples[device] = nil }   // another device at that port
        var kept = samples[device, default: []]
        kept.removeAll { time.timeIntervalSince($0.at) > window }
        kept.append(Sample(at: time, bytesPerSecond: max(0, rate)))
        samples[device] = kept
        let peak = kept.max { $0.bytesPerSecond < $1.bytesPerSecond }!
        let before = observed[device]?.peakBytesPerSecond
        observed[device] = ObservedTraffic(device: device, peakBytesPerSecond: peak.bytesPerSecond, peakAt: peak.at,
                                           lastBytesPerSecond: max(0, rate), lastAt: time, identity: identity)
        return before != peak.bytesPerSecond
    }

    /// A device no longer forwarded: its samples go, its figure stays as it was last seen.
    mutating func forget(_ device: DeviceRef) { samples[device] = nil }

    /// Figures worth saving now: a peak first seen, or moved by a tenth or more (at most every
    /// 2 s), or any change after 30 s. A store write per heartbeat per device would be most of
    /// the controller's writes.
    mutating func dueForSaving(at time: Date) -> [ObservedTraffic] {
        var due: [ObservedTraffic] = []
        for (device, figure) in observed {
            let last = saved[device]
            let changed = last.map { $0.peak != figure.peakBytesPerSecond } ?? true
            guard changed else { continue }
            let age = last.map { time.timeIntervalSince($0.at) } ?? .infinity
            let moved = last.map { abs(figure.peakBytesPerSecond - $0.peak) * 10 >= max(1, $0.peak) } ?? true
            if (moved && age >= 2) || age >= 30 {
                saved[device] = (figure.peakBytesPerSecond, time)
                due.append(figure)
            }
        }
        return due.sorted { $0.device < $1.device }
    }

    /// The bulk figure placement decides on: what the channel carried beyond the periodic
    /// reservation (its bytes include the periodic endpoints' traffic), else the operator's
    /// profile of the product, else the descriptors' (which reserve nothing for bulk).
    func bulk(of device: RegisteredDevice, on host: String, profiles: [String: Int]) -> (bytesPerSecond: Int, source: BulkFigureSource) {
        if let seen = observed[DeviceRef(host: host, id: device.id)], seen.identity == nil || seen.identity == Self.identity(device) {
            return (max(0, seen.peakBytesPerSecond - device.periodicBytesPerSecond), .observed)
        }
        if let profile = Self.profile(of: device, in: profiles) { return (profile, .profile) }
        return (device.bulkBytesPerSecond, .descriptors)
    }

    static func identity(_ device: RegisteredDevice) -> DeviceSelector? {
        // Only what reads back as the same selector (a registration from before the API's checks may hold anything).
        guard let vendor = device.vendorId.flatMap(DeviceSelector.hex4),
              let product = device.productId.flatMap(DeviceSelector.hex4) else { return nil }
        let serial = device.serial?.isEmpty == true ? nil : device.serial
        let selector = DeviceSelector.product(vendorId: vendor, productId: product, serial: serial)
        return (try? DeviceSelector(parsing: selector.description)) == selector ? selector : nil
    }

    /// Whether a device's figure comes from a sample within the window (it is being forwarded now).
    func isCurrent(_ device: DeviceRef, at time: Date, window: TimeInterval) -> Bool {
        samples[device]?.last.map { time.timeIntervalSince($0.at) <= window } ?? false
    }

    /// The operator's figure for a product: `VID:PID` (lowercase hex, as lsusb prints it).
    static func profile(of device: RegisteredDevice, in profiles: [String: Int]) -> Int? {
        guard !profiles.isEmpty, let vendor = device.vendorId, let product = device.productId else { return nil }
        return profiles["\(vendor.lowercased()):\(product.lowercased())"]
    }
}
