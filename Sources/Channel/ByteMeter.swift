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

    /// One direction's bytes: in total, and as (time slot, bytes) pairs, a slot `slot` long.
    private struct Flow {
        var total = 0
        var slots: [(Int64, Int)] = []
    }

    private struct State {
        var toVM = Flow()
        var toDevice = Flow()

        /// In place: `record` runs on every read of a relay, and a copied array is an allocation.
        mutating func withFlow<R>(_ direction: Direction, _ body: (inout Flow) -> R) -> R {
            switch direction {
            case .toVM: body(&toVM)
            case .toDevice: body(&toDevice)
            }
        }
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
            s.withFlow(direction) { flow in
                flow.total += bytes
                if let last = flow.slots.last, last.0 == now {
                    flow.slots[flow.slots.count - 1].1 += bytes
                } else {
                    // Slots only fall out of the window when a new one starts: trim here, not per read.
                    flow.slots.removeAll { $0.0 < now - keep }
                    flow.slots.append((now, bytes))
                }
            }
        }
    }

    public func total(_ direction: Direction) -> Int { state.withLockedValue { $0.withFlow(direction) { $0.total } } }

    /// Bytes per second over the window: the last `window` of complete 100 ms slots.
    public func rate(_ direction: Direction) -> Double {
        let now = slotIndex(clock())
        let keep = slotsKept
        // Complete slots only: the one under way would read low by up to a slot's worth.
        let bytes = state.withLockedValue { s in
            s.withFlow(direction) { flow in flow.slots.filter { $0.0 >= now - keep && $0.0 < now }.reduce(0) { $0 + $1.1 } }
        }
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
