import TetherModel

/// The controller's recent events, for `tether events`: numbered from 1, the oldest dropped
/// past `capacity` (the journal keeps operations for good; this is the live stream).
struct EventLog {
    private var events: [ClusterEvent] = []
    private(set) var lastSequence = 0
    let capacity: Int
    /// Readers waiting for the next event (`Controller.events(after:wait:)`), woken by `append`.
    var waiters = Waiters()

    init(capacity: Int = 10_000) { self.capacity = capacity }

    @discardableResult
    mutating func append(_ event: ClusterEvent) -> ClusterEvent {
        var numbered = event
        lastSequence += 1
        numbered.sequence = lastSequence
        events.append(numbered)
        // In batches, so that appending stays O(1) amortised.
        if events.count > capacity + capacity / 10 { events.removeFirst(events.count - capacity) }
        waiters.wakeAll()
        return numbered
    }

    /// Those after `sequence`, oldest first.
    func after(_ sequence: Int) -> [ClusterEvent] {
        guard let first = events.first, sequence < lastSequence else { return [] }
        let skip = max(0, sequence - first.sequence + 1)
        return Array(events.dropFirst(skip))
    }
}
