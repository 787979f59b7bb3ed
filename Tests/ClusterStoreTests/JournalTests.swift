import ClusterStore
import Foundation
import GRDB
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// What only the SQLite store has: a file on disk that may not be a store, or whose records were
/// damaged. (The rules every store keeps are in StoreConformanceTests.)
struct JournalTests {
    let directory: URL
    var path: String { directory.appendingPathComponent("tether.sqlite").path }

    init() throws { directory = try Fixtures.temporaryDirectory() }

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func attachment() -> DeviceAttachment { ClusterStoreConformance.attachment() }

    static func decision(_ a: DeviceAttachment) -> AttachDecision { ClusterStoreConformance.decision(a) }

    @Test func aFileThatIsNotAStoreIsAClearError() throws {
        try Data("not sqlite at all, just words that fill more than a header would ".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try SQLiteClusterStore(path: path)
        } throws: { error in
            let error = error as? TetherError
            return error?.code == .io && error?.message == "cannot open the store at \(path)"
        }
    }

    @Test func aRecordDamagedOnDiskIsAClearErrorNotACrash() async throws {
        let store = try SQLiteClusterStore(path: path)
        let a = Self.attachment()
        let op = try await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0)
        try await store.finish(op.id, as: .completed, error: nil, at: Self.t0)
        let raw = try DatabaseQueue(path: path)
        try await raw.write { db in try db.execute(sql: "UPDATE attachment SET body = '{\"id\": 7}'") }
        await #expect {
            try await store.attachments()
        } throws: { error in
            (error as? TetherError)?.message == "the store holds a record that no longer decodes as DeviceAttachment"
        }
        #expect(try await store.operation(op.id)?.state == .completed, "the rest of the store still reads")
    }
}
