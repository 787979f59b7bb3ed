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
    static func conformance(_ implementation: StoreImplementation) throws -> ClusterStoreConformance {
        ClusterStoreConformance(implementation, directory: try Fixtures.temporaryDirectory().path)
    }

    @Test(arguments: StoreImplementations.all)
    func journalReadsBackAfterRestart(_ store: StoreImplementation) async throws {
        try await Self.conformance(store).journalReadsBackAfterRestart()
    }

    @Test(arguments: StoreImplementations.all)
    func oneRunningOperationPerDeviceAndAMigrationTakesItsWholeVM(_ store: StoreImplementation) async throws {
        try await Self.conformance(store).oneRunningOperationPerDeviceAndAMigrationTakesItsWholeVM()
    }

    @Test(arguments: StoreImplementations.all)
    func aCompletedMigrationMovesTheVMsOtherAttachmentsAlong(_ store: StoreImplementation) async throws {
        try await Self.conformance(store).aCompletedMigrationMovesTheVMsOtherAttachmentsAlong()
    }

    @Test(arguments: StoreImplementations.all)
    func aFinishedOperationTakesNoMoreStepsAndFinishingTwiceChangesNothing(_ store: StoreImplementation) async throws {
        try await Self.conformance(store).aFinishedOperationTakesNoMoreStepsAndFinishingTwiceChangesNothing()
    }

    @Test(arguments: StoreImplementations.all)
    func aCompletedDetachRemovesTheAttachment(_ store: StoreImplementation) async throws {
        try await Self.conformance(store).aCompletedDetachRemovesTheAttachment()
    }

    @Test(arguments: StoreImplementations.all)
    func registrationsAreReplacedPerHost(_ store: StoreImplementation) async throws {
        try await Self.conformance(store).registrationsAreReplacedPerHost()
    }

    @Test(arguments: StoreImplementations.all)
    func concurrentWritersKeepTheRules(_ store: StoreImplementation) async throws {
        try await Self.conformance(store).concurrentWritersKeepTheRules()
    }
}
