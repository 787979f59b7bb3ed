import ClusterStore
import ClusterStoreEtcd
import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// `tether store migrate`: a SQLite store's state, journal included, read back the same from
/// etcd; a second migration into the same store is refused, and so is one while the controller
/// holds the SQLite store.
@Suite(.requires(EtcdTestCluster.available, "etcd (Debian's etcd-server)"), .serialized)
struct StoreMigrationTests {
    @Test func aSQLiteStoreMovesToEtcdWholeAndOnlyOnce() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        let etcd = try await SharedEtcd.shared.cluster()
        let sqlite = try SQLiteClusterStore(path: "\(directory)/tether.sqlite")
        let t0 = ClusterStoreConformance.t0
        let done = ClusterStoreConformance.attachment(device: "host-b/1-1")
        let first = try await sqlite.begin(.attach(done, decision: ClusterStoreConformance.decision(done)), at: t0)
        try await sqlite.record(StepRecord(step: "export", phase: .done, at: t0), in: first.id)
        try await sqlite.finish(first.id, as: .completed, error: nil, at: t0)
        let moving = ClusterStoreConformance.attachment(device: "host-b/1-2")
        let running = try await sqlite.begin(.attach(moving, decision: ClusterStoreConformance.migration(moving)), at: t0)
        try await sqlite.record(StepRecord(step: "prepare-incoming", phase: .started, at: t0), in: running.id)

        let prefix = "/migrated\(directory)"
        let run = { () async throws -> ProcessResult in
            try await ProcessRunner.run(Tools.product("tether"), ["store", "migrate", "--from", "sqlite:\(directory)/tether.sqlite",
                                                                  "--to", etcd.address, "--prefix", prefix])
        }
        let result = try await run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("copied 0 hosts, 1 attachments, 2 operations (2 steps)"), "\(result.stdout)")

        let store = EtcdClusterStore(client: try etcd.client(), prefix: prefix)
        #expect(try await store.attachments() == sqlite.attachments())
        #expect(try await store.recentOperations(limit: 10) == sqlite.recentOperations(limit: 10))
        #expect(try await store.unfinishedOperations().map(\.id) == [running.id])
        // The rules hold on what was copied: the migration still takes its VM, and numbering goes on.
        await #expect(throws: TetherError.self) {
            try await store.begin(.attach(moving, decision: ClusterStoreConformance.decision(moving)), at: t0)
        }
        try await store.finish(running.id, as: .completed, error: nil, at: t0)
        let next = try await store.begin(.attach(ClusterStoreConformance.attachment(device: "host-b/1-3"),
                                                 decision: ClusterStoreConformance.decision(ClusterStoreConformance.attachment(device: "host-b/1-3"))), at: t0)
        #expect(next.id == "op-3")

        let again = try await run()
        #expect(again.status != 0 && again.stderr.contains("already has a journal"), "\(again.stderr)")
    }
}
