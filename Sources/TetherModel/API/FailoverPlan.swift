/// `tether plan --fail`: where each affected VM goes, how, and over which network.
public struct FailoverPlan: Sendable, Equatable, Codable {
    public struct Move: Sendable, Equatable, Codable {
        public var vm: String
        public var from: String
        public var targetHost: String
        public var mode: MoveMode
        /// The network that carries the state; absent for a restart.
        public var via: String?
        /// A crashed guest's memory is dumped before it restarts.
        public var crashDump: Bool?
        public var reasons: [String]

        public init(vm: String, from: String, targetHost: String, mode: MoveMode, via: String?, crashDump: Bool? = nil, reasons: [String]) {
            self.vm = vm
            self.from = from
            self.targetHost = targetHost
            self.mode = mode
            self.via = via
            self.crashDump = crashDump
            self.reasons = reasons
        }
    }

    public struct Unplaced: Sendable, Equatable, Codable {
        public var vm: String
        /// One reason for each host that was rejected.
        public var reasons: [String]

        public init(vm: String, reasons: [String]) {
            self.vm = vm
            self.reasons = reasons
        }
    }

    public var moves: [Move]
    public var unplaced: [Unplaced]
    /// What the plan noticed that is not a move: nothing to do, a partial fault.
    public var notes: [String]

    public init(moves: [Move], unplaced: [Unplaced], notes: [String]) {
        self.moves = moves
        self.unplaced = unplaced
        self.notes = notes
    }
}
