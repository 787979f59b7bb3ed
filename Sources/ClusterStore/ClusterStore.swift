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
/// - finishing an operation and saving (or removing) its attachment is one transaction, with the
///   changes `OperationRecord.attachmentChanges` gives (the one rule for what follows a VM).
///
/// Every call is async: a store shared by several controllers answers over the network. The
/// conformance suite (TetherTestKit's `ClusterStoreConformance`) pins these rules for every
/// implementation.
public protocol ClusterStore: Sendable {
    func saveRegistration(_ registration: AgentRegistration) async throws(TetherError)
    func registrations() async throws(TetherError) -> [AgentRegistration]

    func attachments() async throws(TetherError) -> [DeviceAttachment]

    /// Rewrites an attachment that still exists: its device lost or back, or found on another
    /// port (`replacing` the id it had there). Answers false, changing nothing, when it is gone
    /// (a detach finished meanwhile): a device coming back never brings a detached one back.
    func updateAttachment(_ attachment: DeviceAttachment, replacing old: String?) async throws(TetherError) -> Bool

    /// What each device was seen to use, one record per device, replaced on save: kept with
    /// the device, so a device detached and attached again is decided on what it used.
    func saveObservedTraffic(_ traffic: ObservedTraffic) async throws(TetherError)
    func observedTraffic() async throws(TetherError) -> [ObservedTraffic]

    /// Journals a new operation (state `running`, no steps) and returns it with its id.
    func begin(_ payload: OperationRecord.Payload, at: Date) async throws(TetherError) -> OperationRecord
    /// Appends one step record; returns the operation as it now stands.
    @discardableResult
    func record(_ step: StepRecord, in operation: String) async throws(TetherError) -> OperationRecord
    /// Ends an operation. A completed attach saves its attachment (and, for a migration, moves
    /// the VM's other attachments to its new host); a completed detach removes it; all in the
    /// same transaction.
    @discardableResult
    func finish(_ operation: String, as state: OperationRecord.State, error: String?, at: Date) async throws(TetherError) -> OperationRecord

    func operation(_ id: String) async throws(TetherError) -> OperationRecord?
    /// Unfinished operations, oldest first: what a restarted controller drives on.
    func unfinishedOperations() async throws(TetherError) -> [OperationRecord]
    /// The latest operations, newest first.
    func recentOperations(limit: Int) async throws(TetherError) -> [OperationRecord]
}
