import Foundation

/// One journaled operation: what it is for (its payload, per kind), its explicit steps, and
/// where it got to. Each step is recorded as started before it runs and as done (or failed) after,
/// with what the next steps need from it, so a controller that restarts knows exactly what to
/// finish or undo without remembering anything.
public struct OperationRecord: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case attach, detach, failover }

    /// What the operation is asked to do: the kind with the values only that kind has. An attach
    /// carries its placement decision; a detach only its reason; a failover its fault, evidence
    /// and move.
    public enum Payload: Sendable, Equatable {
        case attach(DeviceAttachment, decision: AttachDecision)
        case detach(DeviceAttachment, reason: String)
        case failover(FailoverOrder)
    }

    public enum State: String, Sendable, Codable {
        case running
        case completed
        /// It could not finish; what it had done was undone.
        case rolledBack
        /// It could not finish, and undoing it failed too: an operator must look (`error` says why).
        case failed

        public var isFinished: Bool { self != .running }
    }

    public var id: String
    public var payload: Payload
    public var state: State
    public var steps: [StepRecord]
    public var error: String?
    public var created: Date
    public var updated: Date
    /// A migration's progress while it runs (not journaled: it is re-read from the agent).
    public var progress: MigrationReport?

    public init(id: String, payload: Payload, created: Date) {
        self.id = id
        self.payload = payload
        self.state = .running
        self.steps = []
        self.error = nil
        self.created = created
        self.updated = created
    }

    public var kind: Kind {
        switch payload {
        case .attach: .attach
        case .detach: .detach
        case .failover: .failover
        }
    }

    /// The attachment the operation makes or ends; nil for a failover.
    public var attachment: DeviceAttachment? {
        switch payload {
        case .attach(let attachment, _), .detach(let attachment, _): attachment
        case .failover: nil
        }
    }

    /// A failover's order; nil for every other kind.
    public var failover: FailoverOrder? {
        if case .failover(let order) = payload { return order }
        return nil
    }

    /// The VM the operation concerns.
    public var vm: String {
        switch payload {
        case .attach(let attachment, _), .detach(let attachment, _): attachment.vm
        case .failover(let order): order.vm
        }
    }

    /// What the journal keeps one running operation per: the device of an attach or detach; for
    /// a failover, the VM itself (so that two triggers of one fault run one failover).
    public var subject: String {
        switch payload {
        case .attach(let attachment, _), .detach(let attachment, _): attachment.device.description
        case .failover(let order): "failover/\(order.vm)"
        }
    }

    /// An attach's decision; nil for every other kind.
    public var decision: AttachDecision? {
        if case .attach(_, let decision) = payload { return decision }
        return nil
    }

    /// The host the VM moves to, for an attach that migrates it or a failover.
    public var migrationTarget: String? {
        if let order = failover { return order.target }
        guard let decision, decision.action == .migrate else { return nil }
        return decision.targetHost
    }

    /// The host the VM leaves, for an operation that moves it.
    public var migrationSource: String? {
        if let order = failover { return order.from }
        guard let decision, decision.action == .migrate else { return nil }
        return decision.vmHost
    }

    /// What the operation does, in a line: `1-3 -> vm-1`, or `vm-a: storage (self), host-a -> host-b, suspend-resume`.
    public var summary: String {
        switch payload {
        case .attach(let a, _), .detach(let a, _): "\(a.device) -> \(a.vm)"
        case .failover(let o): "\(o.vm): \(o.fault.rawValue) (\(o.trigger.rawValue)), \(o.from) -> \(o.target), \(o.mode.rawValue)"
        }
    }

    /// The output of the last time `step` was done, if it was.
    public func output(of step: String) -> StepOutput? {
        steps.last { $0.step == step && $0.phase == .done }?.output
    }
}

extension OperationRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case id, kind, attachment, decision, reason, failover, state, steps, error, created, updated, progress
    }

    /// Flat on the wire (`kind`, `attachment`, then the kind's own keys), as journals written
    /// before payloads existed are: they still read, a detach's made-up decision ignored.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        switch try c.decode(Kind.self, forKey: .kind) {
        case .attach:
            payload = .attach(try c.decode(DeviceAttachment.self, forKey: .attachment), decision: try c.decode(AttachDecision.self, forKey: .decision))
        case .detach:
            payload = .detach(try c.decode(DeviceAttachment.self, forKey: .attachment),
                              reason: try c.decodeIfPresent(String.self, forKey: .reason) ?? "detach requested")
        case .failover:
            payload = .failover(try c.decode(FailoverOrder.self, forKey: .failover))
        }
        state = try c.decode(State.self, forKey: .state)
        steps = try c.decode([StepRecord].self, forKey: .steps)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        created = try c.decode(Date.self, forKey: .created)
        updated = try c.decode(Date.self, forKey: .updated)
        progress = try c.decodeIfPresent(MigrationReport.self, forKey: .progress)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(attachment, forKey: .attachment)
        switch payload {
        case .attach(_, let decision): try c.encode(decision, forKey: .decision)
        case .detach(_, let reason): try c.encode(reason, forKey: .reason)
        case .failover(let order): try c.encode(order, forKey: .failover)
        }
        try c.encode(state, forKey: .state)
        try c.encode(steps, forKey: .steps)
        try c.encodeIfPresent(error, forKey: .error)
        try c.encode(created, forKey: .created)
        try c.encode(updated, forKey: .updated)
        try c.encodeIfPresent(progress, forKey: .progress)
    }
}

public struct StepRecord: Sendable, Equatable, Codable {
    public enum Phase: String, Sendable, Codable { case started, done, failed }

    public var step: String
    public var phase: Phase
    public var detail: String?
    /// What a done step hands on to the steps after it (journaled, so a restarted controller
    /// has it without asking).
    public var output: StepOutput?
    public var at: Date

    public init(step: String, phase: Phase, detail: String? = nil, output: StepOutput? = nil, at: Date) {
        self.step = step
        self.phase = phase
        self.detail = detail
        self.output = output
        self.at = at
    }
}

/// The typed result of a step that later steps need.
public enum StepOutput: Sendable, Equatable, Codable {
    /// Where the VM's target waits for its state.
    case incoming(HostPort)
    /// The VM already runs on the target: there is nothing to migrate.
    case alreadyMoved
    /// Where the device is exported (a relay's serve end, or the exporter itself).
    case exported(HostPort)
    /// A finished migration, as the source reported it.
    case migrated(MigrationReport)
    /// A VM restarted on another host: the attachments (by id) whose device could not follow
    /// it, each with why; the others were forwarded to it.
    case devices(lost: [String: String])
}
