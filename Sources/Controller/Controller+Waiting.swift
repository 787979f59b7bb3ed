/// Waiting for the controller's changes: its events (`events(after:wait:)`) and its operations'
/// steps and ends (`operation(_:after:wait:)`), each through a `Waiters` line.
extension Controller {
    enum Watched {
        case events
        case operations
    }

    /// Waits at `place` (taken in `watched`'s line) until the next change, up to `wait`, or until
    /// the waiting task is cancelled.
    func wait(at place: Int, of watched: Watched, within wait: Duration) async {
        let timer = Task { [weak self] in
            do { try await Task.sleep(for: wait) } catch { return }   // cancelled: the wait already ended
            await self?.wake(place, of: watched)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                switch watched {
                case .events: events.waiters.wait(continuation, at: place)
                case .operations: operationWaiters.wait(continuation, at: place)
                }
            }
        } onCancel: {
            Task { [weak self] in await self?.wake(place, of: watched) }
        }
        timer.cancel()
    }

    private func wake(_ place: Int, of watched: Watched) {
        switch watched {
        case .events: events.waiters.wake(place)
        case .operations: operationWaiters.wake(place)
        }
    }
}
