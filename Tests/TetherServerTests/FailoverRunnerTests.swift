import ClusterStore
import Foundation
import Testing
import TetherClient
import TetherModel
@testable import Controller

/// A failover as the controller runs it, against simulated hosts: a storage fault reported by
/// host-a's agent becomes one journaled operation that suspends vm-a (disk off the datastore),
/// carries its state to host-b and resumes it there; the same fault seen again joins it; and a
/// controller that dies at any step finishes it after a restart, the VM never running twice.
struct FailoverRunnerTests {
    let cluster: SimulatedCluster
    var world: SimulatedHosts { cluster.world }

    init() throws { cluster = try SimulatedCluster() }


    static let storageLost = FaultReport(host: "host-a", fault: .storage, vms: ["vm-a"], evidence: ["host-a: every path to ds1 down"],
                                         faultAt: Date(timeIntervalSince1970: 1_800_000_000))

    @Test func aStorageFaultSuspendsMovesAndResumesTheVMOnce() async throws {
        let controller = try await cluster.registered()
        let reply = try await controller.reportFault(Self.storageLost, trigger: .selfTriggered)
        let id = try #require(reply.started.first, "\(reply)")
        #expect(reply.started.count == 1 && reply.unplaced.isEmpty)
        let again = try await controller.reportFault(Self.storageLost, trigger: .external)
        #expect(again.started.isEmpty && again.joined == [id], "the controller's own sighting joins the running failover: \(again)")
        let record = try await cluster.finished(controller, id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        let order = try #require(record.failover)
        #expect(order.target == "host-b" && order.mode == .suspendResume && order.trigger == .selfTriggered)
        #expect(order.reasons.contains { $0.contains("lost its storage network") }, "\(order.reasons)")
        #expect(record.steps.filter { $0.phase == .done }.map(\.step) == ["prepare-incoming", "evacuate", "resume", "release-source"])
        let calls = await world.calls
        #expect(calls.contains("evacuate:host-a") && calls.contains("resume:host-b"))
        let vms = await world.vms
        #expect(await world.hosts(running: "vm-a") == ["host-b"], "\(vms) \(calls)")
        #expect(await world.runningTwice.isEmpty)
        let events = await controller.events(after: 0, wait: .zero).events
        #expect(events.contains { $0.kind == .fault && $0.from == "self" && $0.to == "failover" })
        #expect(events.contains { $0.kind == .fault && $0.from == "external" && $0.to == "joined" })
    }

    /// Migration and VM networks lost: the target listens on its management address for the
    /// time of the move, and the move takes at most its share of the management network.
    @Test func migrationAndVMLostMovesOverManagementCapped() async throws {
        let controller = try await cluster.registered()
        let report = FaultReport(host: "host-a", fault: .migrationAndVM, evidence: ["host-a: migration and VM networks down"])
        let id = try #require(try await controller.reportFault(report, trigger: .external).started.first)
        let record = try await cluster.finished(controller, id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        #expect(record.failover?.via == .management && record.failover?.mode == .live)
        #expect(await world.incomingRequests.map(\.via) == [.management])
        let evacuation = try #require(await world.evacuations.first)
        let managementMbps = try #require(ClusterFixtures.hostA.networks[.management]?.mbps)
        #expect(evacuation.maxBandwidthBytesPerSecond == managementMbps * 1_000_000 / 8 / 2, "half the management network by default")
        #expect(!evacuation.leaveStorage, "the storage is fine: the disk stays")
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
    }

    @Test func aStorageMoveIsNotCappedAndComesOverMigration() async throws {
        let controller = try await cluster.registered()
        let id = try #require(try await controller.reportFault(Self.storageLost, trigger: .selfTriggered).started.first)
        #expect(try await cluster.finished(controller, id).state == .completed)
        #expect(await world.incomingRequests.map(\.via) == [nil])
        #expect(await world.evacuations.first?.maxBandwidthBytesPerSecond == nil)
    }

    /// A crashed guest: its crash files collected, then restarted on its host, as one journaled
    /// operation; the fourth crash within the window is held back, not restarted.
    @Test func aCrashIsCollectedAndRestartedUntilTheLimit() async throws {
        let controller = try await cluster.registered()
        let crash = FaultReport(host: "host-a", fault: .crash, vms: ["vm-a"], evidence: ["vm-a's guest panicked"])
        for round in 1...3 {
            let id = try #require(try await controller.reportFault(crash, trigger: .selfTriggered).started.first, "crash \(round)")
            let record = try await cluster.finished(controller, id)
            #expect(record.state == .completed, "\(record.error ?? "")")
            #expect(record.failover?.mode == .restart && record.failover?.target == "host-a")
            #expect(record.steps.filter { $0.phase == .done }.map(\.step) == ["collect-crash", "restart"])
            #expect(record.steps.contains { $0.detail?.contains("64 sectors of crash files") == true })
        }
        let fourth = try await controller.reportFault(crash, trigger: .selfTriggered)
        #expect(fourth.started.isEmpty && fourth.notes.contains { $0.contains("held back") }, "\(fourth)")
        let calls = await world.calls
        #expect(calls.filter { $0 == "restart:host-a" }.count == 3 && calls.filter { $0 == "collectCrash:host-a" }.count == 3)
        let events = await controller.events(after: 0, wait: .zero).events
        #expect(events.last { $0.kind == .fault }?.to == "held back")
        #expect(await world.hosts(running: "vm-a") == ["host-a"])
    }

    @Test func aFaultNoHostCanTakeIsReportedNotMoved() async throws {
        let controller = try await cluster.controller()
        try await controller.register(ClusterFixtures.hostA)
        let reply = try await controller.reportFault(Self.storageLost, trigger: .selfTriggered)
        #expect(reply.started.isEmpty)
        #expect(reply.unplaced.map(\.vm) == ["vm-a"], "\(reply)")
        #expect(await world.hosts(running: "vm-a") == ["host-a"])
    }

    @Test func aFaultOfAnUnknownHostIsAClearError() async throws {
        let controller = try await cluster.registered()
        await #expect(throws: TetherError(.notFound, "host 'host-z' has not registered; its faults cannot be acted on")) {
            try await controller.reportFault(FaultReport(host: "host-z", fault: .storage, evidence: []), trigger: .selfTriggered)
        }
        await #expect(throws: TetherError.self) {
            try await controller.reportFault(FaultReport(host: "host-a", fault: .ioPaths, evidence: []), trigger: .selfTriggered)
        }
    }

    @Test(arguments: ["prepareIncoming:host-b", "evacuate:host-a", "resume:host-b", "release:host-a"], [SimulatedHosts.Hang.before, .after])
    func aControllerThatDiesAtAnyStepOfAFailoverFinishesIt(_ call: String, _ when: SimulatedHosts.Hang) async throws {
        let first = try await cluster.registered()
        await world.hang(at: call, when)
        let id = try #require(try await first.reportFault(Self.storageLost, trigger: .selfTriggered).started.first)
        for _ in 0..<500 where !(await world.calls.contains(call)) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await world.calls.contains(call))
        let second = try await cluster.controller()
        #expect(try await second.recover() == [id])
        let record = try await cluster.finished(second, id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
        #expect(await world.vms["host-a"]?["vm-a"] == nil, "the source's copy was released")
        #expect(await world.runningTwice.isEmpty, "the VM never ran on two hosts")
    }
}
