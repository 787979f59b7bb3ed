/// What the lab guest's sequence sectors say: the counters found and whether they are exactly what
/// an unbroken run leaves. After M writes, sectors 1 to 2048 hold M-2047 ... M (1 ... M while
/// M < 2048), each once and in its own sector (`1 + C mod 2048`): a lost write, a restart (the
/// counter back at 1) or lost memory (the counter gone back) each break that.
public struct CounterSequence: Sendable, Equatable {
    /// The counter in each written sector, by sector number.
    public var counters: [Int: UInt64]
    /// The largest counter found: the last write that completed; nil when none is there.
    public var maximum: UInt64? { counters.values.max() }
    public var verdict: Verdict

    public enum Verdict: Sendable, Equatable {
        /// No sequence sector written yet (the guest never ran, or not long enough).
        case empty
        /// Exactly the last 2048 counters (or all of them, 1 ... M), each once, each in its sector.
        case continuous
        /// What is wrong, each kind once.
        case broken([SequenceFault])
    }

    public var isContinuous: Bool { verdict == .continuous }

    /// Judges the counters found in the sequence's sectors.
    public init(counters: [Int: UInt64]) {
        self.counters = counters
        verdict = Self.judge(counters)
    }

    static func judge(_ counters: [Int: UInt64]) -> Verdict {
        guard let maximum = counters.values.max() else { return .empty }
        let window = Self.window(endingAt: maximum)
        var faults: [SequenceFault] = []
        var seen: [UInt64: Int] = [:]
        for value in counters.values { seen[value, default: 0] += 1 }
        let duplicated = seen.filter { $0.value > 1 }.keys.sorted()
        if !duplicated.isEmpty { faults.append(.duplicated(duplicated)) }
        let misplaced = counters.filter { $0.key != LabGuestImage.sector(of: $0.value) }
            .map { SequenceFault.Misplacement(sector: $0.key, counter: $0.value) }.sorted { $0.sector < $1.sector }
        if !misplaced.isEmpty { faults.append(.misplaced(misplaced)) }
        let behind = seen.keys.filter { $0 < window.lowerBound }.sorted()
        if !behind.isEmpty { faults.append(.wentBack(behind)) }
        let missing = Self.ranges(of: window.filter { seen[$0] == nil })
        if !missing.isEmpty { faults.append(.missing(missing)) }
        return faults.isEmpty ? .continuous : .broken(faults)
    }

    /// The counters an unbroken run that reached `maximum` leaves on the disk.
    static func window(endingAt maximum: UInt64) -> ClosedRange<UInt64> {
        let count = UInt64(LabGuest.sequenceSectors.count)
        return (maximum >= count ? maximum - count + 1 : 1)...maximum
    }

    /// Sorted values as runs: [3, 4, 5, 9] is 3...5 and 9...9.
    static func ranges(of values: [UInt64]) -> [ClosedRange<UInt64>] {
        var runs: [ClosedRange<UInt64>] = []
        for value in values.sorted() {
            if let last = runs.last, last.upperBound + 1 == value {
                runs[runs.count - 1] = last.lowerBound...value
            } else {
                runs.append(value...value)
            }
        }
        return runs
    }
}

/// One way the sequence is broken.
public enum SequenceFault: Sendable, Equatable, CustomStringConvertible {
    /// Counters of the expected window that no sector holds: lost writes (or overwritten by a
    /// counter that went back).
    case missing([ClosedRange<UInt64>])
    /// Counters below the window that the maximum implies: written after the counter went back
    /// (a restart at 1, or memory from before a lost state).
    case wentBack([UInt64])
    /// The same counter in more than one sector.
    case duplicated([UInt64])
    /// A counter in a sector it never goes to.
    case misplaced([Misplacement])

    public struct Misplacement: Sendable, Equatable {
        public var sector: Int
        public var counter: UInt64

        public init(sector: Int, counter: UInt64) {
            self.sector = sector
            self.counter = counter
        }
    }

    public var description: String {
        switch self {
        case .missing(let runs):
            let total = runs.reduce(UInt64(0)) { $0 + $1.upperBound - $1.lowerBound + 1 }
            let spans = runs.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            return "\(total) counters missing: " + Self.list(spans)
        case .wentBack(let values):
            return "the counter went back: \(values.count) counters below the window, " + Self.list(values.map(String.init))
        case .duplicated(let values):
            return "\(values.count) counters in more than one sector: " + Self.list(values.map(String.init))
        case .misplaced(let found):
            return "\(found.count) counters in the wrong sector: " + Self.list(found.map { "\($0.counter) in sector \($0.sector)" })
        }
    }

    private static func list(_ items: [String]) -> String {
        items.count <= 8 ? items.joined(separator: ", ") : items.prefix(8).joined(separator: ", ") + ", ..."
    }
}
