import ClusterStore
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// Every store implementation against the same rules. A store on etcd adds itself here.
enum StoreImplementations {
    static let all: [StoreImplementation] = [
        StoreImplementation(name: "SQLite") { directory in try SQLiteClusterStore(path: "\(directory)/tether.sqlite") },
    ]
}

struct StoreConformanceTests {
    @Test(arguments: StoreImplementations.all, ClusterStoreConformance.Rule.allCases)
    func everyStoreKeepsEveryRule(_ store: StoreImplementation, _ rule: ClusterStoreConformance.Rule) async throws {
        try await ClusterStoreConformance(store, directory: try Fixtures.temporaryDirectory().path).check(rule)
    }
}
