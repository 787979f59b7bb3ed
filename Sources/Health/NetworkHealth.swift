import Failover

/// A network's health as this host measures it (the spec: `up` when the link is up and peers
/// answer, `down` when neither the link nor any peer answers, `partial` when some peers answer).
public enum NetworkState: String, Sendable, Codable, Equatable {
    case up
    case partial
    case down
}

/// The rule that combines the link's state with the failure detector's verdicts.
public enum NetworkHealth {
    /// - A link that is down makes the network `down`, whatever the verdicts (they lag behind it).
    /// - With no peers, the network follows the link.
    /// - Every peer alive: `up`; none alive: `down`; otherwise `partial`. A suspect peer does not
    ///   answer: it counts against, as a dead one does.
    public static func state(link linkUp: Bool, peers: [String: MemberState]) -> NetworkState {
        guard linkUp else { return .down }
        guard !peers.isEmpty else { return .up }
        let alive = peers.values.filter { $0 == .alive }.count
        if alive == peers.count { return .up }
        return alive == 0 ? .down : .partial
    }
}
