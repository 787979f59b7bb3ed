import Foundation

/// One journaled operation: what it is for (its payload, per kind), its explicit steps, and
/// where it got to. Each step is recorded as started before it runs and as done (or failed) after,
/// with what the next steps need from it, so a controller that restarts knows exactly what to
/// finish or undo without remembering anything.
public struct OperationRecord: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case attach, detach }

    /// What the operation is asked to do: the kind with the values only that kind has. An attach
    /// carries its placement decision; a detach only its reason. (Failover kinds come here too.)
    public enum Payload: Sendable, Equatable {
        case attach(DeviceAttachment, decision: AttachDecision)
        case detach(DeviceAttachment, reason: String)
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
        }
    }

    /// The attachment the operation makes or ends.
    public var attachment: DeviceAttachment {
        switch payload {
        case .attach(let attachment, _), .detach(let attachment, _): attachment
        }
    }

    /// An attach's decision; nil for every other kind.
    public var decision: AttachDecision? {
        if case .attach(_, let decision) = payload { return decision }
        return nil
    }

    /// The host the VM moves to, for an attach that migrates it.
    public var migrationTarget: String? {
        guard let decision, decision.action == .migrate else { return nil }
        return decision.targetHost
    }

    /// The output of the last time `step` was done, if it was.
    public func output(of step: String) -> StepOutput? {
        steps.last { $0.step == step && $0.phase == .done }?.output
    }
}

extension OperationRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case id, kind, attachment, decision, reason, state, steps, error, created, updated, progress
    }

    /// Flat on the wire (`kind`, `attachment`, then the kind's own keys), as journals written
    /// before payloads existed are: they still read, a detach's made-up decision ignored.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        let attachment = try c.decode(DeviceAttachment.self, forKey: .attachment)
        switch try c.decode(Kind.self, forKey: .kind) {
        case .attach: payload = .attach(attachment, decision: try c.decode(AttachDecision.self, forKey: .decision))
        case .detach: payload = .detach(attachment, reason: try c.decodeIfPresent(String.self, forKey: .reason) ?? "detach requested")
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
        try c.encode(attachment, forKey: .attachment)
        switch payload {
        case .attach(_, let decision): try c.encode(decision, forKey: .decision)
        case .detach(_, let reason): try c.encode(reason, forKey: .reason)
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
}
