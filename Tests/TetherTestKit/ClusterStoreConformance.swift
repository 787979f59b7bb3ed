import ClusterStore
import Foundation
import Testing
import TetherModel

/// One implementation of `ClusterStore` under test: `open` opens (or, called again with the
/// same directory, reopens: a restarted controller) the store kept in `directory`.
public struct StoreImplementation: Sendable, CustomTestStringConvertible {
    public let name: String
    public let open: @Sendable (_ directory: String) async throws -> any ClusterStore

    public init(name: String, open: @escaping @Sendable (_ directory: String) async throws -> any ClusterStore) {
        self.name = name
        self.open = open
    }

    public var testDescription: String { name }
}

/// The rules every `ClusterStore` keeps (see its documentation), as checks parameterised over
/// implementations: the SQLite store passes them, and so must any store that replaces it.
/// Each check records its failures with Swift Testing's `#expect`.
public struct ClusterStoreConformance: Sendable {
    public let implementation: StoreImplementation
    public let directory: String

    public init(_ implementation: StoreImplementation, directory: String) {
        self.implementation = implementation
        self.directory = directory
    }

    public static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    public static func attachment(vm: String = "vm-1", device: String = "host-b/1-3", vmHost: String = "host-a") -> DeviceAttachment {
        DeviceAttachment(container: "c1", vm: vm, device: DeviceRef(device) ?? DeviceRef(host: "host-b", id: "1-3"),
                         mode: .forward, vmHost: vmHost, since: t0)
    }

    public static func decision(_ a: DeviceAttachment) -> AttachDecision {
        AttachDecision(action: .forward, container: a.container, vm: a.vm, vmHost: a.vmHost, device: a.device.description,
                       targetHost: nil, requiredBitsPerSecond: 1_000, allocatedBitsPerSecond: 100_000_000,
                       migrateThresholdPercent: 50, reasons: ["small"], forwardedAfterMove: nil)
    }

    public static func migration(_ a: DeviceAttachment) -> AttachDecision {
        var d = decision(a)
        d.action = .migrate
        d.targetHost = a.device.host
        return d
    }

    func open() async throws -> any ClusterStore { try await implementation.open(directory) }

    /// The rules, each a check below: a store's tests run every rule on every implementation.
    public enum Rule: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case journalReadsBackAfterRestart
        case oneRunningOperationPerDeviceAndAMigrationTakesItsWholeVM
        case aCompletedMigrationMovesTheVMsOtherAttachmentsAlong
        case aFinishedOperationTakesNoMoreStepsAndFinishingTwiceChangesNothing
        case aCompletedDetachRemovesTheAttachment
        case registrationsAreReplacedPerHost
        case concurrentWritersKeepTheRules
        case oneFailoverPerVMAndItsDevicesFollowIt
        case anAttachmentIsUpdatedOnlyWhileItExists
        case observedTrafficIsKeptPerDevice

        public var testDescription: String { rawValue }
    }

    public func check(_ rule: Rule) async throws {
        switch rule {
        case .journalReadsBackAfterRestart: try await journalReadsBackAfterRestart()
        case .oneRunningOperationPerDeviceAndAMigrationTakesItsWholeVM: try await oneRunningOperationPerDeviceAndAMigrationTakesItsWholeVM()
        case .aCompletedMigrationMovesTheVMsOtherAttachmentsAlong: try await aCompletedMigrationMovesTheVMsOtherAttachmentsAlong()
        case .aFinishedOperationTakesNoMoreStepsAndFinishingTwiceChangesNothing:
            try await aFinishedOperationTakesNoMoreStepsAndFinishingTwiceChangesNothing()
        case .aCompletedDetachRemovesTheAttachment: try await aCompletedDetachRemovesTheAttachment()
        case .registrationsAreReplacedPerHost: try await registrationsAreReplacedPerHost()
        case .concurrentWritersKeepTheRules: try await concurrentWritersKeepTheRules()
        case .oneFailoverPerVMAndItsDevicesFollowIt: try await oneFailoverPerVMAndItsDevicesFollowIt()
        case .anAttachmentIsUpdatedOnlyWhileItExists: try await anAttachmentIsUpdatedOnlyWhileItExists()
        case .observedTrafficIsKeptPerDevice: try await observedTrafficIsKeptPerDevice()
        }
    }

    /// Recovery after a restart: what was journaled reads back from a reopened store, steps in
    /// the order they were written, and an unfinished attach has made no attachment yet.
    public func journalReadsBackAfterRestart() async throws {
        let a = Self.attachment()
        let id: String
        do {
            let store = try await open()
            let op = try await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0)
            id = op.id
            try await store.record(StepRecord(step: "export", phase: .started, at: Self.t0), in: id)
            try await store.record(StepRecord(step: "export", phase: .done, detail: "port 4000", output: .exported(HostPort(host: "10.0.0.2", port: 4000)),
                                              at: Self.t0.addingTimeInterval(1)), in: id)
            try await store.record(StepRecord(step: "connect", phase: .started, at: Self.t0.addingTimeInterval(2)), in: id)
        }
        let reopened = try await open()
        let unfinished = try await reopened.unfinishedOperations()
        #expect(unfinished.map(\.id) == [id])
        let op = try #require(unfinished.first)
        #expect(op.steps.map { "\($0.step):\($0.phase.rawValue)" } == ["export:started", "export:done", "connect:started"])
        #expect(op.steps[1].detail == "port 4000")
        #expect(op.output(of: "export") == .exported(HostPort(host: "10.0.0.2", port: 4000)), "a step's output is journaled with it")
        #expect(op.attachment == a)
        #expect(op.decision == Self.decision(a))
        #expect(op.updated == Self.t0.addingTimeInterval(2))
        #expect(try await reopened.attachments().isEmpty, "an unfinished attach has made no attachment")

        try await reopened.finish(id, as: .completed, error: nil, at: Self.t0.addingTimeInterval(3))
        #expect(try await reopened.unfinishedOperations().isEmpty)
        #expect(try await reopened.attachments() == [a])
        #expect(try await reopened.operation(id)?.state == .completed)
        #expect(try await reopened.operation("op-that-never-was") == nil)
    }

    /// One running operation per device; channels to one VM are independent; a migration takes
    /// its whole VM.
    public func oneRunningOperationPerDeviceAndAMigrationTakesItsWholeVM() async throws {
        let store = try await open()
        let a = Self.attachment()
        let first = try await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0)
        let sameDevice = Self.attachment(vm: "vm-2")
        await #expect(throws: TetherError(.busy, "\(first.id) is still running for \(sameDevice.device) or vm-2; wait for it (tether status) and try again")) {
            try await store.begin(.attach(sameDevice, decision: Self.decision(sameDevice)), at: Self.t0)
        }
        // Another channel to the same VM is independent...
        let sameVM = Self.attachment(device: "host-c/2-1")
        let second = try await store.begin(.attach(sameVM, decision: Self.decision(sameVM)), at: Self.t0)
        // ...but a migration of that VM must wait for both.
        let moving = Self.attachment(device: "host-d/1-1")
        await #expect(throws: TetherError.self) {
            try await store.begin(.attach(moving, decision: Self.migration(moving)), at: Self.t0)
        }
        try await store.finish(first.id, as: .rolledBack, error: "exporter failed", at: Self.t0)
        try await store.finish(second.id, as: .completed, error: nil, at: Self.t0)
        let migration = try await store.begin(.attach(moving, decision: Self.migration(moving)), at: Self.t0)
        // And while it runs, nothing else on vm-1.
        let during = Self.attachment(device: "host-e/1-1")
        await #expect(throws: TetherError(.busy, "\(migration.id) is still running for host-e/1-1 or vm-1; wait for it (tether status) and try again")) {
            try await store.begin(.detach(during, reason: "detach requested"), at: Self.t0)
        }
        #expect(try await store.attachments() == [sameVM], "a rolled-back attach leaves no attachment")
        let again = try await store.begin(.attach(sameDevice, decision: Self.decision(sameDevice)), at: Self.t0)
        #expect(again.state == .running)
    }

    public static func failover(vm: String = "vm-1", from: String = "host-a", to: String = "host-c",
                                trigger: FailoverTrigger = .selfTriggered) -> FailoverOrder {
        FailoverOrder(vm: vm, fault: .storage, trigger: trigger, from: from, target: to, mode: .suspendResume, via: .migration,
                      evidence: ["host-a: every path to datastore ds1 down"], reasons: ["host-c chosen: most free memory"],
                      faultAt: t0.addingTimeInterval(-2), detectedAt: t0)
    }

    /// A failover takes its whole VM, and one fault seen twice (by the host and by the controller)
    /// runs once: the second begin is refused, naming the first. It reads back whole, and once
    /// it completed, the VM's forwarded devices end on its new host.
    public func oneFailoverPerVMAndItsDevicesFollowIt() async throws {
        let store = try await open()
        let forwarded = Self.attachment(device: "host-b/2-1")
        try await store.finish(try await store.begin(.attach(forwarded, decision: Self.decision(forwarded)), at: Self.t0).id,
                               as: .completed, error: nil, at: Self.t0)
        let first = try await store.begin(.failover(Self.failover()), at: Self.t0)
        await #expect(throws: TetherError(.busy, "\(first.id) is still running for failover/vm-1 or vm-1; wait for it (tether status) and try again")) {
            try await store.begin(.failover(Self.failover(trigger: .external)), at: Self.t0)
        }
        let other = Self.attachment(device: "host-e/1-1")
        await #expect(throws: TetherError.self, "no attach on a VM that is failing over") {
            try await store.begin(.attach(other, decision: Self.decision(other)), at: Self.t0)
        }
        let another = try await store.begin(.failover(Self.failover(vm: "vm-2")), at: Self.t0)
        let read = try #require(try await store.operation(first.id))
        #expect(read.failover == Self.failover() && read.attachment == nil && read.kind == .failover)
        #expect(read.migrationSource == "host-a" && read.migrationTarget == "host-c")
        try await store.finish(first.id, as: .completed, error: nil, at: Self.t0)
        try await store.finish(another.id, as: .rolledBack, error: "no target", at: Self.t0)
        #expect(try await store.attachments().map(\.vmHost) == ["host-c"], "the forwarded device's channel ends on vm-1's new host")
    }

    /// The one rule for what follows a VM: a completed migration moves its other attachments.
    public func aCompletedMigrationMovesTheVMsOtherAttachmentsAlong() async throws {
        let store = try await open()
        let forwarded = Self.attachment(device: "host-c/2-1")
        try await store.finish(try await store.begin(.attach(forwarded, decision: Self.decision(forwarded)), at: Self.t0).id,
                               as: .completed, error: nil, at: Self.t0)
        let elsewhere = Self.attachment(vm: "vm-9", device: "host-c/2-2")
        try await store.finish(try await store.begin(.attach(elsewhere, decision: Self.decision(elsewhere)), at: Self.t0).id,
                               as: .completed, error: nil, at: Self.t0)
        let moved = Self.attachment(device: "host-b/1-3", vmHost: "host-b")
        try await store.finish(try await store.begin(.attach(moved, decision: Self.migration(moved)), at: Self.t0).id,
                               as: .completed, error: nil, at: Self.t0)
        let hosts = Dictionary(uniqueKeysWithValues: try await store.attachments().map { ($0.id, $0.vmHost) })
        #expect(hosts == [forwarded.id: "host-b", moved.id: "host-b", elsewhere.id: "host-a"],
                "the forwarded device's channel now ends on host-b; another VM's stays")
    }

    public func aFinishedOperationTakesNoMoreStepsAndFinishingTwiceChangesNothing() async throws {
        let store = try await open()
        let a = Self.attachment()
        let op = try await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0)
        try await store.finish(op.id, as: .failed, error: "agent host-b unreachable", at: Self.t0)
        await #expect(throws: TetherError.self) { try await store.record(StepRecord(step: "late", phase: .done, at: Self.t0), in: op.id) }
        let twice = try await store.finish(op.id, as: .completed, error: nil, at: Self.t0)
        #expect(twice.state == .failed)
        #expect(twice.error == "agent host-b unreachable")
        #expect(try await store.attachments().isEmpty)
    }

    public func aCompletedDetachRemovesTheAttachment() async throws {
        let store = try await open()
        let a = Self.attachment()
        let attach = try await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0)
        try await store.finish(attach.id, as: .completed, error: nil, at: Self.t0)
        let detach = try await store.begin(.detach(a, reason: "detach requested"), at: Self.t0)
        #expect(try await store.attachments() == [a], "still attached while the detach runs")
        #expect(try await store.operation(detach.id)?.payload == .detach(a, reason: "detach requested"), "a detach has no decision")
        try await store.finish(detach.id, as: .completed, error: nil, at: Self.t0)
        #expect(try await store.attachments().isEmpty)
        #expect(try await store.recentOperations(limit: 10).map(\.id) == [detach.id, attach.id])
        #expect(try await store.recentOperations(limit: 1).map(\.id) == [detach.id])
    }

    /// A device lost, back, or found at another port rewrites its attachment; a detach that
    /// finished first wins (the attachment is not brought back).
    public func anAttachmentIsUpdatedOnlyWhileItExists() async throws {
        let store = try await open()
        let a = Self.attachment()
        let attach = try await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0)
        try await store.finish(attach.id, as: .completed, error: nil, at: Self.t0)
        var lost = a
        lost.lost = "unplugged from host-b"
        #expect(try await store.updateAttachment(lost, replacing: nil))
        #expect(try await open().attachments() == [lost])
        let moved = Self.attachment(device: "host-b/2-1")
        #expect(try await store.updateAttachment(moved, replacing: a.id))
        #expect(try await open().attachments() == [moved], "the old id is gone with the move")
        let detach = try await store.begin(.detach(moved, reason: "detach requested"), at: Self.t0)
        try await store.finish(detach.id, as: .completed, error: nil, at: Self.t0)
        #expect(try await store.updateAttachment(moved, replacing: nil) == false)
        #expect(try await store.updateAttachment(a, replacing: moved.id) == false)
        #expect(try await open().attachments().isEmpty, "a detached device is never brought back")
    }

    public func observedTrafficIsKeptPerDevice() async throws {
        let store = try await open()
        let device = DeviceRef(host: "host-b", id: "1-4")
        var figure = ObservedTraffic(device: device, peakBytesPerSecond: 5_000_000, peakAt: Self.t0, lastBytesPerSecond: 10, lastAt: Self.t0)
        try await store.saveObservedTraffic(figure)
        figure.peakBytesPerSecond = 7_000_000
        try await store.saveObservedTraffic(figure)
        let other = ObservedTraffic(device: DeviceRef(host: "host-a", id: "1-1"), peakBytesPerSecond: 1, peakAt: Self.t0, lastBytesPerSecond: 1,
                                    lastAt: Self.t0)
        try await store.saveObservedTraffic(other)
        #expect(try await open().observedTraffic() == [other, figure], "one per device, replaced on save")
    }

    public func registrationsAreReplacedPerHost() async throws {
        let store = try await open()
        var r = AgentRegistration(host: "host-b", agentAddress: HostPort(host: "10.0.0.2", port: 7443), cpus: 8, memoryMiB: 16384,
                                  networks: [.management: NetworkLink(up: true, mbps: 1000)], datastores: ["ds1"],
                                  devices: [RegisteredDevice(id: "1-3", vendorId: "046d", productId: "0825", periodicBytesPerSecond: 24_677_000)],
                                  vms: [RegisteredVM(name: "vm-1", cpus: 1, memoryMiB: 128, networkMbps: 100, datastore: "ds1",
                                                     status: .postmigrate)])
        try await store.saveRegistration(r)
        r.devices = []
        try await store.saveRegistration(r)
        var other = r
        other.host = "host-a"
        try await store.saveRegistration(other)
        #expect(try await open().registrations() == [other, r], "one per host, by name, typed states intact")
    }

    /// Concurrent writers: many controllers' tasks begin operations on one device at once, and
    /// exactly one wins; steps written concurrently to different operations all land, each
    /// operation's in its own order.
    public func concurrentWritersKeepTheRules() async throws {
        let store = try await open()
        let contenders = 16
        let winners = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<contenders {
                let a = Self.attachment(vm: "vm-\(i)")
                group.addTask { (try? await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1, "one running operation per device, whoever asks")
        var ids: [String] = []
        for i in 0..<4 {
            let a = Self.attachment(vm: "vm-c\(i)", device: "host-c/\(i)-1")
            ids.append(try await store.begin(.attach(a, decision: Self.decision(a)), at: Self.t0).id)
        }
        let perOperation = 10
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask {
                    for n in 0..<perOperation {
                        try await store.record(StepRecord(step: "s\(n)", phase: .done, at: Self.t0.addingTimeInterval(Double(n))), in: id)
                    }
                }
            }
            try await group.waitForAll()
        }
        let reopened = try await open()
        for id in ids {
            let steps = try #require(try await reopened.operation(id)).steps.map(\.step)
            #expect(steps == (0..<perOperation).map { "s\($0)" }, "\(id): every step, in the order written")
        }
    }
}
