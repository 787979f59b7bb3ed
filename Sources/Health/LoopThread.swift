import Foundation

/// A monitor's loop on a thread of its own: its calls block (bounded by deadlines) and must not
/// hold one of the two threads of Swift's shared pool. `run` is structured: it returns only once
/// the loop has ended, and cancelling the calling task asks the loop to stop (it notices within
/// one wait: at most a request's deadline).
final class LoopThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopping = false

    var isStopping: Bool { condition.withLock { stopping } }

    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }

    /// Sleeps until `deadline` or until asked to stop; false when asked to stop.
    @discardableResult
    func sleep(until deadline: ContinuousClock.Instant) -> Bool {
        condition.withLock {
            while !stopping {
                let left = ContinuousClock.now.duration(to: deadline)
                guard left > .zero else { return true }
                _ = condition.wait(until: Date().addingTimeInterval(Double(left.milliseconds + 1) / 1000))
            }
            return false
        }
    }

    /// Runs `body` on a new thread named `name` until it returns; cancellation stops it.
    static func run(_ name: String, _ body: @escaping @Sendable (LoopThread) -> Void) async {
        let loop = LoopThread()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    body(loop)
                    done.resume()
                }
                thread.name = name
                thread.start()
            }
        } onCancel: {
            loop.stop()
        }
    }
}
