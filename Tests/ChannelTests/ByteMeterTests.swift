import Channel
import Foundation
import NIOConcurrencyHelpers
import Testing

/// The relay's meter: bytes per direction over a sliding window of 100 ms slots, on a clock the
/// test moves, including the half-second window the agents report.
struct ByteMeterTests {
    final class Clock: Sendable {
        private let now = NIOLockedValueBox(ContinuousClock.now)
        var function: @Sendable () -> ContinuousClock.Instant { { self.now.withLockedValue { $0 } } }
        func advance(_ d: Duration) { now.withLockedValue { $0 += d } }
    }

    @Test(arguments: [Duration.milliseconds(500), .seconds(1), .seconds(5)])
    func theRateIsWhatTheWindowHolds(_ window: Duration) {
        let clock = Clock()
        let meter = ByteMeter(window: window, clock: clock.function)
        let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        let slots = Int((seconds * 10).rounded())
        for slot in 0..<slots {
            if slot > 0 { clock.advance(.milliseconds(100)) }
            meter.record(100_000, .toVM)
            meter.record(10_000, .toDevice)
        }
        // The slot under way does not count yet; once it is complete, the window holds it.
        #expect(abs(meter.rate(.toVM) - Double(slots - 1) * 100_000 / seconds) < 1)
        clock.advance(.milliseconds(100))
        #expect(abs(meter.rate(.toVM) - 1_000_000) < 1, "100 kB per 100 ms: \(meter.rate(.toVM))")
        #expect(abs(meter.throughput - 1_100_000) < 1)
        clock.advance(window + .milliseconds(101))
        #expect(meter.throughput == 0, "a window later, nothing")
        #expect(meter.total(.toVM) == 100_000 * slots, "totals stay")
    }
}
