import ClusterStore
import Foundation
import Synchronization
import TetherModel

/// Which controller of a cluster acts: the API asks the seat, not a controller. While this
/// process leads, the seat holds its `Controller` (one per term: a new term loads the store
/// afresh and drives the journal); while it stands by, requests that would act are refused as
/// `notLeader`, naming the leader, and the status says who leads and what the store holds.
/// With the embedded store the one controller leads for the process's life.
public actor ControllerSeat {
    public nonisolated let name: String
    /// Where the state is: a path (SQLite) or `etcd://...`.
    public let storeAddress: String
    private let store: any ClusterStore
    /// Read by every request without a hop onto this actor (`leading()`): with four clients
    /// the hop was a thread wake-up per request, on the way to the controller's own.
    private nonisolated let seated: Mutex<Controller?>
    private var controller: Controller? { seated.withLock { $0 } }
    /// Every controller with its role, read from the shared store (or just this one).
    private nonisolated let members: @Sendable () async throws(TetherError) -> [ControllerStatus]

    public init(name: String, storeAddress: String, store: any ClusterStore, leading controller: Controller? = nil,
                members: (@Sendable () async throws(TetherError) -> [ControllerStatus])? = nil) {
        self.name = name
        self.storeAddress = storeAddress
        self.store = store
        seated = Mutex(controller)
        self.members = members ?? { [ControllerStatus(name: name, leader: true)] }
    }

    /// A seat that leads at once, for the embedded store (and tests).
    public init(leading controller: Controller, name: String = "controller", storeAddress: String = "") {
        self.init(name: name, storeAddress: storeAddress, store: controller.store, leading: controller)
    }

    public func lead(_ controller: Controller) { seated.withLock { $0 = controller } }
    public func standBy() { seated.withLock { $0 = nil } }

    /// The controller, while this process leads.
    public nonisolated func leading() async throws(TetherError) -> Controller {
        if let controller = seated.withLock({ $0 }) { return controller }
        let leader = try? await members().first { $0.leader }
        let at = leader.flatMap { l in l.address.map { " at \($0)" } ?? l.socket.map { " (socket \($0))" } } ?? ""
        throw TetherError(.notLeader, "\(name) is a standby: " + (leader.map { "\($0.name) leads\(at); ask it" }
                                                                  ?? "no controller leads yet (an election is under way); try again in a moment"))
    }

    public func controllers() async throws(TetherError) -> [ControllerStatus] { try await members() }

    /// The journal's latest operations, newest first: a standby reads them from the shared store too.
    public func recentOperations(limit: Int) async throws(TetherError) -> [OperationRecord] {
        try await store.recentOperations(limit: limit)
    }

    /// The live stream's epoch (`Controller.eventEpoch`); nil on a standby.
    public func eventEpoch() -> String? { controller?.eventEpoch }

    /// The live stream's latest events, oldest first; none on a standby (only the leader hears the hosts).
    public func recentEvents(limit: Int) async -> [ClusterEvent] {
        await controller?.recentEvents(limit: limit) ?? []
    }

    /// The leader's status with the controllers and the store; a standby's has the store's
    /// attachments and unfinished operations, and no hosts: only the leader hears the agents.
    public func status() async throws(TetherError) -> ClusterStatus {
        var status: ClusterStatus
        if let controller {
            status = try await controller.status()
        } else {
            status = ClusterStatus(hosts: [], attachments: try await store.attachments(), operations: try await store.unfinishedOperations())
        }
        status.controllers = try await members()
        status.store = storeAddress
        return status
    }
}
