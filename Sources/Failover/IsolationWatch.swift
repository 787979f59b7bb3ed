import Foundation
import TetherModel

/// A host's own judgement that it is isolated (shared/spec/ha.md, fencing): no peer answers on
/// any of its networks, no path to any datastore works, and the controller is silent. Such a
/// host cannot tell whether the cluster will restart its VMs elsewhere, so it stops them writing
/// (pauses them) within its isolation deadline, counted from its last contact with anyone; the
/// controller restarts them elsewhere only after that deadline plus a margin. When contact comes
/// back, the fenced VMs are let go: resumed, or quit where they run elsewhere by then. Pure: the
/// agent feeds what it measured and the time.
public struct IsolationWatch: Sendable {
    public struct Observation: Sendable, Equatable {
        public var now: Date
        public var controllerHeardAt: Date?
        /// Each network with an address, as the host measures it.
        public var networks: [NetworkRole: HealthState]
        /// Whether any path to any datastore works.
        public var anyPathUp: Bool
        /// The last time a path wrote (the host's last contact with its storage).
        public var lastPathSuccess: Date?

        public init(now: Date, controllerHeardAt: Date?, networks: [NetworkRole: HealthState], anyPathUp: Bool, lastPathSuccess: Date?) {
            self.now = now
            self.controllerHeardAt = controllerHeardAt
            self.networks = networks
            self.anyPathUp = anyPathUp
            self.lastPathSuccess = lastPathSuccess
        }
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Pause every VM now; the deadline is when they must be stopped at the latest.
        case fence(evidence: [String], deadline: Date)
        /// Contact is back: let the fenced VMs go.
        case release
    }

    /// From the last contact to the VMs stopped, at the latest.
    public var deadline: TimeInterval
    /// How long the controller must be silent too (the spec's 2 s to call a network down).
    public var silence: TimeInterval
    private var fenced = false

    public init(deadline: TimeInterval = 6, silence: TimeInterval = 2) {
        self.deadline = deadline
        self.silence = silence
    }

    public mutating func observe(_ o: Observation) -> Action {
        // A host that has not heard the controller since it started was never in touch with the
        // cluster: there is no contact to have lost (and at the start every network reads down).
        guard let heard = o.controllerHeardAt else { return .none }
        let controllerSilent = o.now.timeIntervalSince(heard) >= silence
        let isolated = controllerSilent && !o.anyPathUp && !o.networks.isEmpty && o.networks.values.allSatisfy { $0 == .down }
        guard isolated else {
            // The VMs stay fenced until the controller answers: only the cluster can say
            // whether they were restarted elsewhere meanwhile.
            guard fenced, !controllerSilent else { return .none }
            fenced = false
            return .release
        }
        guard !fenced else { return .none }
        fenced = true
        let lastContact = max(heard, o.lastPathSuccess ?? heard)
        return .fence(evidence: [
            "no peer answers on \(o.networks.keys.sorted().map(\.rawValue).joined(separator: ", "))",
            "no path to any datastore works",
            String(format: "the controller silent for %.1f s", o.now.timeIntervalSince(heard)),
        ], deadline: lastContact.addingTimeInterval(deadline))
    }
}
