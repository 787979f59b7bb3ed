import Foundation

/// A reader's judgment of other writers' heartbeats: whether each one's sequence still
/// advances. Pure: the records and the reader's own clock go in. A writer is `advancing` while
/// its sequence changed within `timeout` of now (by the reader's clock: the writers' clocks are
/// not trusted), `stalled` after that, `unknown` before a first change was seen: a first sight
/// proves nothing, the record may be years old.
public struct HeartbeatProgress: Sendable {
    public enum Verdict: Sendable, Equatable {
        case unknown
        case advancing(sequence: UInt64)
        /// No change since `since` (the reader's time of the last change, or of the first sight).
        case stalled(sequence: UInt64, since: Date)
    }

    struct Seen: Sendable {
        var sequence: UInt64
        var firstSeen: Date
        var changedAt: Date?
    }

    public var timeout: Duration
    private var seen: [HeartbeatWriter: Seen] = [:]

    public init(timeout: Duration = .seconds(2)) {
        self.timeout = timeout
    }

    /// Takes in one read of the region, done at `now`.
    public mutating func observe(_ records: some Sequence<HeartbeatRecord>, at now: Date) {
        for record in records {
            if var known = seen[record.writer] {
                if record.sequence != known.sequence {
                    known.sequence = record.sequence
                    known.changedAt = now
                }
                seen[record.writer] = known
            } else {
                seen[record.writer] = Seen(sequence: record.sequence, firstSeen: now)
            }
        }
    }

    public func verdict(for writer: HeartbeatWriter, at now: Date) -> Verdict {
        guard let known = seen[writer] else { return .unknown }
        guard let changed = known.changedAt else {
            // Seen, never moving: stalled once it has been watched for the timeout.
            return now.timeIntervalSince(known.firstSeen) >= timeout.timeInterval
                ? .stalled(sequence: known.sequence, since: known.firstSeen) : .unknown
        }
        return now.timeIntervalSince(changed) < timeout.timeInterval
            ? .advancing(sequence: known.sequence) : .stalled(sequence: known.sequence, since: changed)
    }

    /// Every writer seen so far, with its verdict.
    public func verdicts(at now: Date) -> [HeartbeatWriter: Verdict] {
        Dictionary(uniqueKeysWithValues: seen.keys.map { ($0, verdict(for: $0, at: now)) })
    }
}
