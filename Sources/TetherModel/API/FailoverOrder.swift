import Foundation

/// How a VM gets to its new host.
public enum MoveMode: String, Sendable, Codable {
    /// Live migration: the VM keeps running; its memory crosses a network.
    case live
    /// Stop, save the full state, carry it over a network, resume.
    case suspendResume = "suspend-resume"
    /// Start it afresh from its disk: nothing crosses from the old host.
    case restart
}

/// The faults of shared/spec/ha.md's table, as operations and metrics name them.
public enum FaultKind: String, Sendable, Codable, CaseIterable {
    /// The host is gone: silent on every network and datastore.
    case host
    /// The host lost its storage network; its VMs still run, in memory.
    case storage
    case management
    /// The host lost its migration and VM networks.
    case migrationAndVM = "migration-vm"
    /// Every IO path of one VM failed on its host.
    case ioPaths = "io-paths"
    /// The guest crashed or stopped answering.
    case crash

    /// A fault that can be over on its own (a network, a path back): its report stands only
    /// while it is fresh. A crash or a dead host stays what it was.
    public var canPass: Bool {
        switch self {
        case .storage, .management, .migrationAndVM, .ioPaths: true
        case .host, .crash: false
        }
    }
}

/// Who saw the fault first: the host's own agent, or the controller from the outside.
public enum FailoverTrigger: String, Sendable, Codable {
    case selfTriggered = "self"
    case external
}

/// One VM's failover, as journaled: the fault with its evidence, where the VM goes and why
/// (placement's reasons), and how. Everything a restarted controller needs to finish it, and
/// everything an operator needs to see why it happened.
public struct FailoverOrder: Sendable, Equatable, Codable {
    public var vm: String
    public var fault: FaultKind
    public var trigger: FailoverTrigger
    /// The host the VM ran on when the fault was seen.
    public var from: String
    public var target: String
    public var mode: MoveMode
    /// The network that carries the state; nil for a restart.
    public var via: NetworkRole?
    /// What failed, and when: paths, heartbeats, QEMU events.
    public var evidence: [String]
    /// The placement decision, as `tether plan --fail` explains it.
    public var reasons: [String]
    /// When the evidence says the fault began (the last good measure), for detection and recovery times.
    public var faultAt: Date?
    public var detectedAt: Date
    /// The host whose agent ran it, with the controller out of its reach (management lost), and
    /// the id it had in that agent's journal; nil: the controller ran it.
    public var ranBy: String?
    public var ranAs: String?
    /// A restart on another host than `from`: the VM as its lost host registered it, launch
    /// figures included, which the target starts from its disk (the journal alone must suffice).
    public var registeredVM: RegisteredVM?

    public init(vm: String, fault: FaultKind, trigger: FailoverTrigger, from: String, target: String, mode: MoveMode,
                via: NetworkRole?, evidence: [String], reasons: [String], faultAt: Date?, detectedAt: Date) {
        self.vm = vm
        self.fault = fault
        self.trigger = trigger
        self.from = from
        self.target = target
        self.mode = mode
        self.via = via
        self.evidence = evidence
        self.reasons = reasons
        self.faultAt = faultAt
        self.detectedAt = detectedAt
    }

    /// The VM's state leaves its host (over a network) rather than being started afresh.
    public var movesState: Bool { mode != .restart }

    /// Its datastore is out of the source's reach: the disk leaves it before the state moves.
    public var leavesStorage: Bool { fault == .storage || fault == .ioPaths }
}

/// An agent's word to the controller: this host has a fault, and these VMs are affected
/// (`POST /v1/faults`). The controller plans and journals the moves.
public struct FaultReport: Sendable, Equatable, Codable {
    public var host: String
    public var fault: FaultKind
    /// The affected VMs; empty means every VM of the host the fault concerns.
    public var vms: [String]
    public var evidence: [String]
    public var faultAt: Date?
    /// When the reporting agent saw the fault hold, on its clock. A fault that passes (a
    /// network or path that comes back) may be over by the time a delayed report arrives: the
    /// controller refuses one made before the agent was last out of its reach.
    public var observedAt: Date?

    public init(host: String, fault: FaultKind, vms: [String] = [], evidence: [String], faultAt: Date? = nil, observedAt: Date? = nil) {
        self.host = host
        self.fault = fault
        self.vms = vms
        self.evidence = evidence
        self.faultAt = faultAt
        self.observedAt = observedAt
    }
}

/// What the controller did with a fault: the operations it began, the ones already running for
/// the same VMs that this report joined, and the VMs no host could take (with why).
public struct FaultReply: Sendable, Equatable, Codable {
    public var started: [String]
    public var joined: [String]
    /// As `tether plan --fail` lists them: one reason per host that was rejected.
    public var unplaced: [FailoverPlan.Unplaced]
    public var notes: [String]

    public init(started: [String] = [], joined: [String] = [], unplaced: [FailoverPlan.Unplaced] = [], notes: [String] = []) {
        self.started = started
        self.joined = joined
        self.unplaced = unplaced
        self.notes = notes
    }
}

/// Move a VM's state to `to`, where `target` waits for it. With `leaveStorage` (its datastore is
/// out of this host's reach), the disk is first taken off the datastore onto a local sink that
/// fails every request: stopping and migrating then flush nothing towards dead storage, and the
/// requests that failed travel with the device's state, to be issued again on the target.
public struct EvacuateRequest: Sendable, Equatable, Codable {
    public var vm: String
    public var to: HostPort
    public var target: String
    public var leaveStorage: Bool
    /// Cap on the migration stream, bytes per second (a temporary path on the management network).
    public var maxBandwidthBytesPerSecond: Int?

    public init(vm: String, to: HostPort, target: String, leaveStorage: Bool, maxBandwidthBytesPerSecond: Int? = nil) {
        self.vm = vm
        self.to = to
        self.target = target
        self.leaveStorage = leaveStorage
        self.maxBandwidthBytesPerSecond = maxBandwidthBytesPerSecond
    }
}
