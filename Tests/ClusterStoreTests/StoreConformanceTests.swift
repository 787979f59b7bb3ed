import ClusterStore
import ClusterStoreEtcd
import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// Every store implementation against the same rules.
enum StoreImplementations {
    static let all: [StoreImplementation] = [
        StoreImplementation(name: "SQLite") { directory in try SQLiteClusterStore(path: "\(directory)/tether.sqlite") },
        // One real etcd for the whole suite; each test keeps its keys under a prefix of its own
        // (its directory), which a reopen finds again.
        StoreImplementation(name: "etcd") { directory in
            let etcd = try await SharedEtcd.shared.cluster()
            return EtcdClusterStore(client: try etcd.client(), prefix: "/conformance\(directory)")
        },
    ]
}

/// The suite's etcd, started on first use and left to the end of the test process (each test's
/// keys are apart, and starting etcd takes a second).
actor SharedEtcd {
    static let shared = SharedEtcd()
    private var started: EtcdTestCluster?

    func cluster() async throws -> EtcdTestCluster {
        if let started { return started }
        let cluster = try await EtcdTestCluster(directory: try Fixtures.temporaryDirectory().path + "/etcd")
        started = cluster
        return cluster
    }
}

struct StoreConformanceTests {
    @Test(.requires(EtcdTestCluster.available, "etcd (Debian's etcd-server) for the etcd store"),
          arguments: StoreImplementations.all, ClusterStoreConformance.Rule.allCases)
    func everyStoreKeepsEveryRule(_ store: StoreImplementation, _ rule: ClusterStoreConformance.Rule) async throws {
        try await ClusterStoreConformance(store, directory: try Fixtures.temporaryDirectory().path).check(rule)
    }
}
