/// Requests waiting for the next change of something the controller holds (its event log, its
/// operations), each woken by that change, by its own timeout or by its cancellation, whichever
/// comes first. A place in line is taken before waiting at it: a wake that comes between the two
/// (a timeout, a cancellation) is kept, and the wait then ends at once.
struct Waiters {
    private var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
    private var lastPlace = 0
    private var wokenEarly: Set<Int> = []
    /// Places taken and not yet waited at (`placeInLine` then `wait`).
    private var pending: Set<Int> = []
    /// Every place up to this one was woken by a change.
    private var lastWake = 0

    mutating func placeInLine() -> Int {
        lastPlace += 1
        pending.insert(lastPlace)
        return lastPlace
    }

    mutating func wait(_ continuation: CheckedContinuation<Void, Never>, at place: Int) {
        pending.remove(place)
        if wokenEarly.remove(place) != nil || place <= lastWake { continuation.resume() } else { waiting[place] = continuation }
    }

    /// A change: every place taken so far is woken, waiting or about to.
    mutating func wakeAll() {
        let woken = waiting
        waiting = [:]
        wokenEarly = []
        lastWake = lastPlace
        for waiter in woken.values { waiter.resume() }
    }

    /// Gives up a place taken and not waited at (what it waited for was there already).
    mutating func leave(_ place: Int) {
        pending.remove(place)
        wokenEarly.remove(place)
    }

    /// Ends one wait; a place already done with (woken, timed out, cancelled) is no one's now.
    mutating func wake(_ place: Int) {
        if let waiter = waiting.removeValue(forKey: place) { waiter.resume() } else if pending.contains(place) { wokenEarly.insert(place) }
    }
}
