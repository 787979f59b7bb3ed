import Foundation
import TetherModel

/// What one rendering of the web view shows: the controller's status, the journal's recent
/// operations and the live stream's recent events, as the controller had them at `at`.
public struct ClusterPage: Sendable {
    public var status: ClusterStatus
    /// Newest first: those in flight and those that ended lately.
    public var operations: [OperationRecord]
    /// Oldest first, as the stream numbers them.
    public var events: [ClusterEvent]
    /// The controller that rendered it (a standby has no hosts, operations in flight only).
    public var controller: String
    public var at: Date
    /// The leader's event numbering (`Controller.eventEpoch`); nil on a standby.
    public var eventEpoch: String?

    public init(status: ClusterStatus, operations: [OperationRecord], events: [ClusterEvent], controller: String, at: Date,
                eventEpoch: String? = nil) {
        self.eventEpoch = eventEpoch
        self.status = status
        self.operations = operations
        self.events = events
        self.controller = controller
        self.at = at
    }

    /// The last event shown: the page's stream asks for those after it.
    public var lastEvent: Int { events.last?.sequence ?? 0 }

    /// The stream's id of the last event shown (`EPOCH-SEQUENCE`).
    public var lastEventID: String { eventEpoch.map { "\($0)-\(lastEvent)" } ?? "\(lastEvent)" }
}
