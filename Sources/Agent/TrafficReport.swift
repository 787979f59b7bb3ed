import TetherModel

/// When the devices' rates go to the controller: with every heartbeat, and at once when one moved
/// by a quarter or more (and at least 100 kB/s) since it was last sent, or a device began or
/// ended being forwarded, so that a device that starts streaming is known within the meter's
/// 300 ms, not a heartbeat later.
public struct TrafficReport: Sendable {
    private var sent: [String: Int] = [:]

    public init() {}

    public func moved(_ rates: [DeviceRate]) -> Bool {
        let now = Dictionary(rates.map { ($0.device, $0.bytesPerSecond) }, uniquingKeysWith: +)
        if Set(now.keys) != Set(sent.keys) { return true }
        for device in Set(now.keys).union(sent.keys) {
            let before = sent[device] ?? 0, after = now[device] ?? 0
            if abs(after - before) >= max(100_000, before / 4) { return true }
        }
        return false
    }

    public mutating func sending(_ rates: [DeviceRate]) { sent = Dictionary(rates.map { ($0.device, $0.bytesPerSecond) }, uniquingKeysWith: +) }
}
