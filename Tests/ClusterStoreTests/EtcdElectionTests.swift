import ClusterStore
import ClusterStoreEtcd
import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// Leader election and fencing on a real etcd: one leader at a time, a leader that cannot renew
/// its lease stops before etcd expires it, a standby leads within the lease time plus a second,
/// and the deposed leader's writes are refused.
@Suite(.requires(EtcdTestCluster.available, "etcd (Debian's etcd-server)"), .serialized)
struct EtcdElectionTests {
    static func attachment(_ device: String) -> DeviceAttachment {
        DeviceAttachment(container: "c1", vm: "vm-1", device: DeviceRef(device)!, mode: .forward, vmHost: "host-a",
                         since: ClusterStoreConformance.t0)
    }

    @Test func aStandbyLeadsWhenTheLeaderStopsRenewingAndTheDeposedLeadersWritesAreRefused() async throws {
        let etcd = try await EtcdTestCluster(directory: try Fixtures.temporaryDirectory().path)
        let client = try etcd.client()
        let store = EtcdClusterStore(client: client, prefix: "/election")
        let c1 = EtcdElection(client: client, prefix: "/election", me: ControllerStatus(name: "c1", leader: false))
        let c2 = EtcdElection(client: client, prefix: "/election", me: ControllerStatus(name: "c2", leader: false))
        let renewing1 = Task { await c1.keepAlive() }
        let renewing2 = Task { await c2.keepAlive() }
        defer { renewing2.cancel(); Task { await etcd.stop() } }

        let fence1 = try await c1.lead()
        let standby = Task { try await c2.lead() }
        try await Task.sleep(for: .seconds(3))   // longer than the lease: c1 renews it
        let first = try await store.fenced(by: fence1).begin(.attach(Self.attachment("host-b/1-1"),
                                                                     decision: ClusterStoreConformance.decision(Self.attachment("host-b/1-1"))),
                                                             at: ClusterStoreConformance.t0)
        let members = try await c2.controllers()
        #expect(members.map(\.name) == ["c1", "c2"] && members.map(\.leader) == [true, false])

        // c1 stops renewing (paused, cut off): it must stop acting before etcd expires its lease.
        renewing1.cancel()
        let stopped = ContinuousClock.now
        let watch = Task { await c1.lost() }
        // Revoking on the way out would hand over at once; a cut-off leader cannot, so the
        // test looks at whether c1 stopped while its key was still there, then waits for c2.
        _ = await watch.value
        let stillHeld = try await client.get("/election/leader")
        #expect(stillHeld != nil || ContinuousClock.now - stopped < .seconds(2), "c1 stopped acting before its lease ran out in etcd")
        let fence2 = try await standby.value
        let takeover = ContinuousClock.now - stopped
        #expect(takeover < .seconds(3), "c2 led \(takeover) after c1's last renewal: within the lease (2 s) plus a second")
        #expect(fence2 != fence1)

        // The deposed leader's late writes are refused, whatever it tries; the new leader's go through.
        await #expect(throws: TetherError.self) {
            try await store.fenced(by: fence1).record(StepRecord(step: "open-channel", phase: .started, at: ClusterStoreConformance.t0),
                                                      in: first.id)
        }
        do {
            try await store.fenced(by: fence1).finish(first.id, as: .completed, error: nil, at: ClusterStoreConformance.t0)
            Issue.record("a deposed leader finished an operation")
        } catch {
            #expect(error.code == .notLeader && error.message.contains("c2 leads now"), "\(error)")
        }
        let untouched = try await store.operation(first.id)
        #expect(untouched?.steps.isEmpty == true && untouched?.state == .running)
        try await store.fenced(by: fence2).finish(first.id, as: .completed, error: nil, at: ClusterStoreConformance.t0)
        #expect(try await store.attachments().map(\.id) == [Self.attachment("host-b/1-1").id])
        #expect(try await c2.controllers().first { $0.leader }?.name == "c2")
        await c2.resign()
        #expect(try await client.get("/election/leader") == nil, "a resigning leader hands over at once")
    }

    @Test func threeMembersServeWithOneDownRefuseCleanlyWithTwoDownAndRecover() async throws {
        let etcd = try await EtcdTestCluster(size: 3, directory: try Fixtures.temporaryDirectory().path)
        defer { etcd.killAll() }
        let store = EtcdClusterStore(client: try etcd.client(timeout: .seconds(2)), prefix: "/faults")
        let t0 = ClusterStoreConformance.t0
        func attach(_ device: String) -> OperationRecord.Payload {
            .attach(Self.attachment(device), decision: ClusterStoreConformance.decision(Self.attachment(device)))
        }
        let before = try await store.begin(attach("host-b/1-1"), at: t0)

        await etcd.kill("e1")
        try await etcd.waitUntilWritable()   // e1 may have led: the others elect one of themselves
        let during = try await store.begin(attach("host-b/1-2"), at: t0)
        try await store.record(StepRecord(step: "open-channel", phase: .started, at: t0), in: during.id)

        await etcd.kill("e2")
        let refusedAt = ContinuousClock.now
        do {
            _ = try await store.begin(attach("host-b/1-3"), at: t0)
            Issue.record("a cluster with one member of three took a write")
        } catch {
            #expect([.timeout, .io].contains(error.code), "\(error)")
        }
        #expect(ContinuousClock.now - refusedAt < .seconds(5), "refused within the client's timeout, not etcd's 7 s")

        try await etcd.start("e1")
        try await etcd.start("e2")
        try await etcd.waitUntilWritable()
        // Nothing half-written: the refused begin left either a whole operation or none, and the
        // journal's rules still stand for the others.
        let unfinished = try await store.unfinishedOperations()
        #expect(unfinished.prefix(2).map(\.id) == [before.id, during.id])
        #expect(unfinished.count <= 3)
        if unfinished.count == 3 {
            #expect(unfinished[2].attachment?.device.description == "host-b/1-3", "a write held while etcd lost quorum is applied whole")
        }
        #expect(try await store.operation(during.id)?.steps.count == 1)
        let after = try await store.begin(attach("host-b/1-4"), at: t0)
        #expect(EtcdKeysProbe.sequence(after.id) > EtcdKeysProbe.sequence(during.id))
        await #expect(throws: TetherError.self, "one running operation per device, after recovery too") {
            try await store.begin(attach("host-b/1-2"), at: t0)
        }
    }
}

enum EtcdKeysProbe {
    static func sequence(_ id: String) -> Int { Int(id.dropFirst(3)) ?? 0 }
}
