import ClusterStore
import Foundation
import TetherModel
@testable import Controller

/// A journal on disk, simulated hosts, and controllers opened on them: the harness of the runner
/// tests. A controller "killed" by a hung call stays stuck there; the next one opens the journal.
struct SimulatedCluster {
    let path: String
    let world: SimulatedHosts

    init(vms: [String: [String: VMRunState]] = ["host-a": ["vm-a": .running], "host-b": [:]]) throws {
        path = try ClusterFixtures.temporaryStore().1
        world = SimulatedHosts(vms: vms)
    }

    /// A controller on the journal, with its operation runner going (as tetherd's service group runs it).
    func controller(settings: Controller.Settings = .init(stepDeadline: 5),
                    now: @escaping @Sendable () -> Date = Date.init) async throws -> Controller {
        let world = self.world
        let controller = try await Controller(store: try SQLiteClusterStore(path: path), settings: settings, connect: { registration in
            SimulatedAgent(host: registration.host, world: world)
        }, now: now)
        Task { await controller.runOperations() }
        return controller
    }

    func registered(settings: Controller.Settings = .init(stepDeadline: 5),
                    now: @escaping @Sendable () -> Date = Date.init) async throws -> Controller {
        let controller = try await controller(settings: settings, now: now)
        try await controller.register(ClusterFixtures.hostA)
        try await controller.register(ClusterFixtures.hostB)
        return controller
    }

    func finished(_ controller: Controller, _ id: String) async throws -> OperationRecord {
        for _ in 0..<500 {
            let record = try await controller.operation(id)
            if record.state.isFinished { return record }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TetherError(.timeout, "\(id) did not finish")
    }
}
