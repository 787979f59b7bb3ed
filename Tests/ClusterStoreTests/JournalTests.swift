import ClusterStore
import Foundation
import GRDB
import Testing
import TetherModel
import TetherTestSupport

/// The SQLite journal on a real file: what a restarted controller reads back is exactly what was
/// written, and the rules that keep two operations from racing hold in the database itself.
struct JournalTests {
    let directory: URL
    var path: String { directory.appendingPathComponent("tether.sqlite").path }

    init() throws { directory = try Fixtures.temporaryDirectory() }

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func attachment(vm: String = "vm-1", device: String = "host-b/1-3") -> DeviceAttachment {
        DeviceAttachment(container: "c1", vm: vm, device: DeviceRef(device)!, mode: .forward, vmHost: "host-a", since: t0)
    }

    static func decision(_ a: DeviceAttachment) -> AttachDecision {
        AttachDecision(action: .forward, container: a.container, vm: a.vm, vmHost: a.vmHost, device: a.device.description,
                       targetHost: nil, requiredBitsPerSecond: 1_000, allocatedBitsPerSecond: 100_000_000,
                       migrateThresholdPercent: 50, reasons: ["small"], forwardedAfterMove: nil)
    }

    @Test func aJournaledOperationReadsBackAfterReopening() throws {
        let a = Self.attachment()
        let id: String
        do {
            let store = try SQLiteClusterStore(path: path)
            let op = try store.begin(.attach, attachment: a, decision: Self.decision(a), at: Self.t0)
            id = op.id
            try store.record(StepRecord(step: "export", phase: .started, at: Self.t0), in: id)
            try store.record(StepRecord(step: "export", phase: .done, detail: "port 4000", at: Self.t0.addingTimeInterval(1)), in: id)
            try store.record(StepRecord(step: "connect", phase: .started, at: Self.t0.addingTimeInterval(2)), in: id)
        }
        let reopened = try SQLiteClusterStore(path: path)
        let unfinished = try reopened.unfinishedOperations()
        #expect(unfinished.map(\.id) == [id])
        let op = try #require(unfinished.first)
        #expect(op.steps.map { "\($0.step):\($0.phase.rawValue)" } == ["export:started", "export:done", "connect:started"])
        #expect(op.steps[1].detail == "port 4000")
        #expect(op.attachment == a)
        #expect(op.decision == Self.decision(a))
        #expect(op.updated == Self.t0.addingTimeInterval(2))
        #expect(try reopened.attachments().isEmpty, "an unfinished attach has made no attachment")

        try reopened.finish(id, as: .completed, error: nil, at: Self.t0.addingTimeInterval(3))
        #expect(try reopened.unfinishedOperations().isEmpty)
        #expect(try reopened.attachments() == [a])
        #expect(try reopened.operation(id)?.state == .completed)
    }

    static func migration(_ a: DeviceAttachment) -> AttachDecision {
        var d = decision(a)
        d.action = .migrate
        d.targetHost = a.device.host
        return d
    }

    @Test func oneRunningOperationPerDeviceAndAMigrationTakesItsWholeVM() throws {
        let store = try SQLiteClusterStore(path: path)
        let a = Self.attachment()
        let first = try store.begin(.attach, attachment: a, decision: Self.decision(a), at: Self.t0)
        let sameDevice = Self.attachment(vm: "vm-2")
        #expect(throws: TetherError(.busy, "\(first.id) is still running for \(sameDevice.device) or vm-2; wait for it (tether status) and try again")) {
            try store.begin(.attach, attachment: sameDevice, decision: Self.decision(sameDevice), at: Self.t0)
        }
        // Another channel to the same VM is independent...
        let sameVM = Self.attachment(device: "host-c/2-1")
        let second = try store.begin(.attach, attachment: sameVM, decision: Self.decision(sameVM), at: Self.t0)
        // ...but a migration of that VM must wait for both.
        let moving = Self.attachment(device: "host-d/1-1")
        #expect(throws: TetherError.self) { try store.begin(.attach, attachment: moving, decision: Self.migration(moving), at: Self.t0) }
        try store.finish(first.id, as: .rolledBack, error: "exporter failed", at: Self.t0)
        try store.finish(second.id, as: .completed, error: nil, at: Self.t0)
        let migration = try store.begin(.attach, attachment: moving, decision: Self.migration(moving), at: Self.t0)
        // And while it runs, nothing else on vm-1.
        let during = Self.attachment(device: "host-e/1-1")
        #expect(throws: TetherError(.busy, "\(migration.id) is still running for host-e/1-1 or vm-1; wait for it (tether status) and try again")) {
            try store.begin(.detach, attachment: during, decision: Self.decision(during), at: Self.t0)
        }
        #expect(try store.attachments() == [sameVM], "a rolled-back attach leaves no attachment")
        let again = try store.begin(.attach, attachment: sameDevice, decision: Self.decision(sameDevice), at: Self.t0)
        #expect(again.state == .running)
    }

    @Test func aCompletedMigrationMovesTheVMsOtherAttachmentsAlong() throws {
        let store = try SQLiteClusterStore(path: path)
        let forwarded = Self.attachment(device: "host-c/2-1")
        try store.finish(try store.begin(.attach, attachment: forwarded, decision: Self.decision(forwarded), at: Self.t0).id,
                         as: .completed, error: nil, at: Self.t0)
        var moved = Self.attachment(device: "host-b/1-3")
        moved.vmHost = "host-b"
        try store.finish(try store.begin(.attach, attachment: moved, decision: Self.migration(moved), at: Self.t0).id,
                         as: .completed, error: nil, at: Self.t0)
        #expect(try store.attachments().map(\.vmHost) == ["host-b", "host-b"], "the forwarded device's channel now ends on host-b")
    }

    @Test func aFinishedOperationTakesNoMoreStepsAndFinishingTwiceChangesNothing() throws {
        let store = try SQLiteClusterStore(path: path)
        let a = Self.attachment()
        let op = try store.begin(.attach, attachment: a, decision: Self.decision(a), at: Self.t0)
        try store.finish(op.id, as: .failed, error: "agent host-b unreachable", at: Self.t0)
        #expect(throws: TetherError.self) { try store.record(StepRecord(step: "late", phase: .done, at: Self.t0), in: op.id) }
        let twice = try store.finish(op.id, as: .completed, error: nil, at: Self.t0)
        #expect(twice.state == .failed)
        #expect(twice.error == "agent host-b unreachable")
        #expect(try store.attachments().isEmpty)
    }

    @Test func aCompletedDetachRemovesTheAttachment() throws {
        let store = try SQLiteClusterStore(path: path)
        let a = Self.attachment()
        let attach = try store.begin(.attach, attachment: a, decision: Self.decision(a), at: Self.t0)
        try store.finish(attach.id, as: .completed, error: nil, at: Self.t0)
        let detach = try store.begin(.detach, attachment: a, decision: Self.decision(a), at: Self.t0)
        #expect(try store.attachments() == [a], "still attached while the detach runs")
        try store.finish(detach.id, as: .completed, error: nil, at: Self.t0)
        #expect(try store.attachments().isEmpty)
        #expect(try store.recentOperations(limit: 10).map(\.id) == [detach.id, attach.id])
    }

    @Test func registrationsAreReplacedPerHost() throws {
        let store = try SQLiteClusterStore(path: path)
        var r = AgentRegistration(host: "host-b", agentAddress: HostPort(host: "10.0.0.2", port: 7443), cpus: 8, memoryMiB: 16384,
                                  networks: [.management: NetworkLink(up: true, mbps: 1000)], datastores: ["ds1"],
                                  devices: [RegisteredDevice(id: "1-3", vendorId: "046d", productId: "0825", periodicBytesPerSecond: 24_677_000)],
                                  vms: [])
        try store.saveRegistration(r)
        r.devices = []
        try store.saveRegistration(r)
        #expect(try SQLiteClusterStore(path: path).registrations() == [r])
    }

    @Test func aFileThatIsNotAStoreIsAClearError() throws {
        try Data("not sqlite at all, just words that fill more than a header would ".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try SQLiteClusterStore(path: path)
        } throws: { error in
            let error = error as? TetherError
            return error?.code == .io && error?.message == "cannot open the store at \(path)"
        }
    }

    @Test func aRecordDamagedOnDiskIsAClearErrorNotACrash() throws {
        let store = try SQLiteClusterStore(path: path)
        let a = Self.attachment()
        let op = try store.begin(.attach, attachment: a, decision: Self.decision(a), at: Self.t0)
        try store.finish(op.id, as: .completed, error: nil, at: Self.t0)
        let raw = try DatabaseQueue(path: path)
        try raw.write { db in try db.execute(sql: "UPDATE attachment SET body = '{\"id\": 7}'") }
        #expect {
            try store.attachments()
        } throws: { error in
            (error as? TetherError)?.message == "the store holds a record that no longer decodes as DeviceAttachment"
        }
        #expect(try store.operation(op.id)?.state == .completed, "the rest of the store still reads")
    }
}
