import Foundation
import NIOConcurrencyHelpers
import TetherModel

/// Bytes through a channel in each direction, in total and as a rate over a sliding window:
/// the observed bandwidth that later feeds a device's `bulkBytesPerSecond`.
public final class ByteMeter: Sendable {
    public enum Direction: String, Sendable, CaseIterable {
        /// From the device's host toward the VM.
        case toVM = "to-vm"
        /// From the VM toward the device's host.
        case toDevice = "to-device"
    }

    private struct State {
        var totals: [Direction: Int] = [:]
        /// (time slot, bytes) per direction; a slot is `slot` long.
        var slots: [Direction: [(Int64, Int)]] = [:]
    }

    private let state = NIOLockedValueBox(State())
    public let window: Duration
    private let slot: Duration = .milliseconds(100)
    private let clock: @Sendable () -> ContinuousClock.Instant

    public init(window: Duration = .seconds(5), clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.window = window
        self.clock = clock
    }

    private static let origin = ContinuousClock.now

    /// The window in slots of 100 ms (at least one).
    private var slotsKept: Int64 {
        let (seconds, attoseconds) = window.components
        return max(1, seconds * 10 + attoseconds / 100_000_000_000_000_000)
    }

    private func slotIndex(_ instant: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (instant - Self.origin).components
        return (seconds * 1_000_000 + attoseconds / 1_000_000_000_000) / 100_000
    }

    public func record(_ bytes: Int, _ direction: Direction) {
        let now = slotIndex(clock())
        let keep = slotsKept
        state.withLockedValue { s in
            s.totals[direction, default: 0] += bytes
            var slots = s.slots[direction, default: []]
            if let last = slots.last, last.0 == now {
                slots[slots.count - 1].1 += bytes
            } else {
                // Slots only fall out of the window when a new one starts: trim here, not per read.
                slots.removeAll { $0.0 < now - keep }
                slots.append((now, bytes))
            }
            s.slots[direction] = slots
        }
    }

    public func total(_ direction: Direction) -> Int { state.withLockedValue { $0.totals[direction, default: 0] } }

    /// Bytes per second over the window: the last `window` of complete 100 ms slots.
    public func rate(_ direction: Direction) -> Double {
        let now = slotIndex(clock())
        let keep = slotsKept
        // Complete slots only: the one under way would read low by up to a slot's worth.
        let bytes = state.withLockedValue { s in s.slots[direction, default: []].filter { $0.0 >= now - keep && $0.0 < now }.reduce(0) { $0 + $1.1 } }
        return Double(bytes) / window.timeInterval
    }

    /// Both directions together over the window: what the channel takes of the network.
    public var throughput: Double { rate(.toVM) + rate(.toDevice) }

    /// "to-vm 1.20 MB/s (3.4 MB), to-device 2.0 kB/s (10.0 kB)"
    public var summary: String {
        Direction.allCases.map { "\($0.rawValue) \(Self.format(rate($0)))/s (\(Self.format(Double(total($0)))))" }.joined(separator: ", ")
    }

    static func format(_ bytes: Double) -> String {
        switch bytes {
        case ..<1_000: return String(format: "%.0f B", bytes)
        case ..<1_000_000: return String(format: "%.1f kB", bytes / 1e3)
        case ..<1_000_000_000: return String(format: "%.2f MB", bytes / 1e6)
        default: return String(format: "%.2f GB", bytes / 1e9)
        }
    }
}
