import Foundation
import TetherModel

/// The controller's durable state: hosts as their agents registered them, finished attachments,
/// and the operation journal. SQLite (GRDB) is the embedded default; a store shared by several
/// controller machines (etcd) implements the same protocol.
///
/// The journal's rules, which every implementation keeps:
/// - an operation and its steps are written before the controller acts on them;
/// - at most one unfinished operation per device, and a migration excludes every other
///   unfinished operation on its VM (a second is refused as `busy`): two attaches never race for
///   one device, and a VM is never moved twice or moved while a channel to it is being made;
/// - finishing an operation and saving (or removing) its attachment is one transaction.
public protocol ClusterStore: Sendable {
    func saveRegistration(_ registration: AgentRegistration) throws(TetherError)
    func registrations() throws(TetherError) -> [AgentRegistration]

    func attachments() throws(TetherError) -> [DeviceAttachment]

    /// Journals a new operation (state `running`, no steps) and returns it with its id.
    func begin(_ kind: OperationRecord.Kind, attachment: DeviceAttachment, decision: AttachDecision, at: Date) throws(TetherError) -> OperationRecord
    /// Appends one step record; returns the operation as it now stands.
    @discardableResult
    func record(_ step: StepRecord, in operation: String) throws(TetherError) -> OperationRecord
    /// Ends an operation. A completed attach saves its attachment (and, for a migration, moves
    /// the VM's other attachments to its new host); a completed detach removes it; all in the
    /// same transaction.
    @discardableResult
    func finish(_ operation: String, as state: OperationRecord.State, error: String?, at: Date) throws(TetherError) -> OperationRecord

    func operation(_ id: String) throws(TetherError) -> OperationRecord?
    /// Unfinished operations, oldest first: what a restarted controller drives on.
    func unfinishedOperations() throws(TetherError) -> [OperationRecord]
    /// The latest operations, newest first.
    func recentOperations(limit: Int) throws(TetherError) -> [OperationRecord]
}
