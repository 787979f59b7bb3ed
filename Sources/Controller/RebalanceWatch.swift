import Foundation

/// Which forwarded devices' observed need has stayed above their VM's migrate threshold for the
/// hold time. Pure: given which are above now and the time, it answers what changed.
struct RebalanceWatch {
    enum Change: Equatable {
        /// Above the threshold from now on.
        case rose(String)
        /// Back under it (or no longer forwarded) before or after it was acted on.
        case fell(String)
        /// Above it for the hold time: decide again (once, until it falls and rises again).
        case due(String)
    }

    struct Watched {
        var since: Date
        var acted = false
        var advice: String?
    }

    private(set) var watched: [String: Watched] = [:]

    /// `above`: the attachments (by id) whose need is above the threshold now; every other
    /// attachment is under it or no longer forwarded.
    mutating func update(above: Set<String>, at time: Date, hold: TimeInterval) -> [Change] {
        var changes: [Change] = []
        for id in watched.keys.sorted() where !above.contains(id) {
            watched[id] = nil
            changes.append(.fell(id))
        }
        for id in above.sorted() {
            guard var entry = watched[id] else {
                watched[id] = Watched(since: time)
                changes.append(.rose(id))
                if hold <= 0 {
                    watched[id]?.acted = true
                    changes.append(.due(id))
                }
                continue
            }
            if !entry.acted, time.timeIntervalSince(entry.since) >= hold {
                entry.acted = true
                watched[id] = entry
                changes.append(.due(id))
            }
        }
        return changes
    }

    mutating func advise(_ id: String, _ advice: String) { watched[id]?.advice = advice }
}

extension RebalanceWatch {
    /// Acting failed for now (something else runs on the VM): due again at the next check.
    mutating func retry(_ id: String) { watched[id]?.acted = false }

    /// Acting was refused (busy): the hold starts over, rather than asking every check.
    mutating func restart(_ id: String, at time: Date) {
        watched[id]?.acted = false
        watched[id]?.since = time
    }
}
