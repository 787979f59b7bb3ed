import Foundation

/// One journaled operation: an attach or a detach, its explicit steps, and where it got to.
/// Each step is recorded as started before it runs and as done (or failed) after, so that a
/// controller that restarts knows exactly what to finish or undo.
public struct OperationRecord: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case attach, detach }

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
    public var kind: Kind
    public var attachment: DeviceAttachment
    public var decision: AttachDecision
    public var state: State
    public var steps: [StepRecord]
    public var error: String?
    public var created: Date
    public var updated: Date
    /// A migration's progress while it runs (not journaled: it is re-read from the agent).
    public var progress: MigrationReport?

    public init(id: String, kind: Kind, attachment: DeviceAttachment, decision: AttachDecision, created: Date) {
        self.id = id
        self.kind = kind
        self.attachment = attachment
        self.decision = decision
        self.state = .running
        self.steps = []
        self.error = nil
        self.created = created
        self.updated = created
    }
}

public struct StepRecord: Sendable, Equatable, Codable {
    public enum Phase: String, Sendable, Codable { case started, done, failed }

    public var step: String
    public var phase: Phase
    public var detail: String?
    public var at: Date

    public init(step: String, phase: Phase, detail: String? = nil, at: Date) {
        self.step = step
        self.phase = phase
        self.detail = detail
        self.at = at
    }
}
