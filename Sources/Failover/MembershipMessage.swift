/// What one host's failure detector says about a peer on one network.
public enum MemberState: String, Sendable, Equatable, Codable {
    /// It answers (or nobody has reason to doubt it).
    case alive
    /// A probe went unanswered, directly and through others: it has a short while to refute.
    case suspect
    /// It did not refute in time: unreachable on this network.
    case dead
}

/// News about one member, spread by piggybacking on the detector's own messages. The member's
/// incarnation orders news about it: only the member raises it, to refute a suspicion.
public struct MemberUpdate: Sendable, Equatable {
    public var host: String
    public var state: MemberState
    public var incarnation: UInt64

    public init(host: String, state: MemberState, incarnation: UInt64) {
        self.host = host
        self.state = state
        self.incarnation = incarnation
    }
}

/// The detector's messages (SWIM): a direct probe and its answer, and a request to probe a
/// member on the sender's behalf when the direct probe went unanswered. Every message carries a
/// few membership updates, so news spreads without messages of its own.
public enum MembershipMessage: Sendable, Equatable {
    case ping(sequence: UInt64, updates: [MemberUpdate])
    case ack(sequence: UInt64, updates: [MemberUpdate])
    case pingRequest(sequence: UInt64, target: String, updates: [MemberUpdate])

    public var updates: [MemberUpdate] {
        switch self {
        case .ping(_, let updates), .ack(_, let updates), .pingRequest(_, _, let updates): updates
        }
    }
}

/// A message to send.
public struct Outgoing: Sendable, Equatable {
    public var to: String
    public var message: MembershipMessage

    public init(to: String, _ message: MembershipMessage) {
        self.to = to
        self.message = message
    }
}

/// What one event produced: messages to send, and this host's verdicts that changed.
public struct DetectorOutput: Sendable, Equatable {
    public var messages: [Outgoing]
    public var changes: [MemberUpdate]

    public init(messages: [Outgoing], changes: [MemberUpdate]) {
        self.messages = messages
        self.changes = changes
    }
}
