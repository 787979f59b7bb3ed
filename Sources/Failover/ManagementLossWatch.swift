import Foundation
import TetherModel

/// A host's own judgement that it lost its management network (shared/spec/ha.md): no answer
/// from the controller for `silence`, no peer answering on management, and peers answering on
/// migration. The host then moves its VMs itself, over migration, with the cluster view it last
/// got. Pure: the agent feeds what it measured and the time; the watch says when to act, once
/// per loss, and when the controller is heard again.
public struct ManagementLossWatch: Sendable {
    public struct Observation: Sendable, Equatable {
        public var now: Date
        /// When the controller last answered; nil: never since the agent started.
        public var controllerHeardAt: Date?
        public var management: HealthState
        public var migration: HealthState
        /// The kernel's word on the management link (nil: not known).
        public var managementLink: Bool?

        public init(now: Date, controllerHeardAt: Date?, management: HealthState, migration: HealthState, managementLink: Bool? = nil) {
            self.now = now
            self.controllerHeardAt = controllerHeardAt
            self.management = management
            self.migration = migration
            self.managementLink = managementLink
        }
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Move the host's VMs over migration; the fault began at `since`.
        case failOver(since: Date, evidence: [String])
        /// The controller answers again: the loss is over.
        case recovered
    }

    /// How long the controller may stay silent: the spec's 2 s to call a network down (half a
    /// second when the management link has no carrier).
    public var silence: TimeInterval
    private var acted = false
    /// Since when peers answer on migration without a break (nil: not now).
    private var migrationWorkingSince: Date?

    public init(silence: TimeInterval = 2) { self.silence = silence }

    public mutating func observe(_ o: Observation) -> Action {
        let migrationWorks = o.migration == .up || o.migration == .partial
        migrationWorkingSince = migrationWorks ? (migrationWorkingSince ?? o.now) : nil
        guard let heard = o.controllerHeardAt else { return .none }
        let silent = o.now.timeIntervalSince(heard)
        // A management link without carrier reaches no controller: that is known, not
        // suspected, and waits only past a bounce.
        let needed = o.managementLink == false ? min(silence, HostJudgement.linkLossHold) : silence
        if silent < needed {
            defer { acted = false }
            return acted ? .recovered : .none
        }
        // A host that hears nobody on migration either is isolated, not cut from management
        // alone: fencing, not moving, is its answer. One that hears peers on management is not
        // cut off from the cluster; the controller alone is gone.
        guard !acted, o.management == .down, let working = migrationWorkingSince else { return .none }
        // Migration must have worked while the controller fell silent, or for a whole silence
        // since: a host whose links all come back after an isolation hears peers on migration
        // a moment before it hears them on management and the controller (each network's
        // peers are judged apart), and that moment is no management loss.
        guard working <= heard || o.now.timeIntervalSince(working) >= silence else { return .none }
        acted = true
        return .failOver(since: heard, evidence: [
            String(format: "no answer from the controller for %.1f s", silent),
            "no peer answers on the management network",
            "peers answer on the migration network (\(o.migration.rawValue))",
        ])
    }
}
