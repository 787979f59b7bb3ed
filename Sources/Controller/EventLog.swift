import TetherModel

/// The controller's recent events, for `tether events`: numbered from 1, the oldest dropped
/// past `capacity` (the journal keeps operations for good; this is the live stream).
struct EventLog {
    private var events: [ClusterEvent] = []
    private(set) var lastSequence = 0
    let capacity: Int
    /// Readers waiting for the next event (`Controller.events(after:wait:)`), woken by `append`.
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0
    private var wokenEarly: Set<Int> = []
    /// Places taken and not yet waited at (`placeInLine` then `wait`).
    private var pending: Set<Int> = []
    /// Every place up to this one was woken by an event.
    private var lastWake = 0

    init(capacity: Int = 10_000) { self.capacity = capacity }

    @discardableResult
    mutating func append(_ event: ClusterEvent) -> ClusterEvent {
        var numbered = event
        lastSequence += 1
        numbered.sequence = lastSequence
        events.append(numbered)
        // In batches, so that appending stays O(1) amortised.
        if events.count > capacity + capacity / 10 { events.removeFirst(events.count - capacity) }
        let woken = waiters
        waiters = [:]
        wokenEarly = []
        lastWake = nextWaiter
        for waiter in woken.values { waiter.resume() }
        return numbered
    }

    /// A place in line for the next event, taken before waiting at it: a wake that comes first
    /// (a timeout, a cancellation) is kept, and the wait then ends at once.
    mutating func placeInLine() -> Int {
        nextWaiter += 1
        pending.insert(nextWaiter)
        return nextWaiter
    }

    mutating func wait(_ continuation: CheckedContinuation<Void, Never>, at place: Int) {
        pending.remove(place)
        if wokenEarly.remove(place) != nil || place <= lastWake { continuation.resume() } else { waiters[place] = continuation }
    }

    /// Ends a wait; a place already done with (woken, timed out, cancelled) is no one's now.
    mutating func wake(_ place: Int) {
        if let waiter = waiters.removeValue(forKey: place) { waiter.resume() } else if pending.contains(place) { wokenEarly.insert(place) }
    }

    /// Those after `sequence`, oldest first.
    func after(_ sequence: Int) -> [ClusterEvent] {
        guard let first = events.first, sequence < lastSequence else { return [] }
        let skip = max(0, sequence - first.sequence + 1)
        return Array(events.dropFirst(skip))
    }
}
