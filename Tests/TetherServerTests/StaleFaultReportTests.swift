import ClusterStore
import Foundation
import Testing
import TetherModel
@testable import Controller

/// A host's own report of a fault that can pass, held up while the host was cut off (its
/// request waited on a dead network) and delivered once it is heard again, tells of a time that
/// is over: the controller refuses it, so that a host back from isolation keeps its VMs. A
/// report made since the host was heard again is acted on.
struct StaleFaultReportTests {
    let clock = TestClock()
    let cluster: SimulatedCluster
    var world: SimulatedHosts { cluster.world }

    init() throws { cluster = try SimulatedCluster() }

    func start() async throws -> Controller {
        let world = self.world
        let controller = try await Controller(store: try SQLiteClusterStore(path: cluster.path), settings: .init(stepDeadline: 5),
                                              connect: { SimulatedAgent(host: $0.host, world: world) }, now: clock.function)
        Task { await controller.runOperations() }
        try await controller.register(ClusterFixtures.hostA)
        try await controller.register(ClusterFixtures.hostB)
        return controller
    }

    func report(_ fault: FaultKind, observedAt: Date) -> FaultReport {
        FaultReport(host: "host-a", fault: fault, vms: ["vm-a"], evidence: ["host-a: \(fault.rawValue)"], faultAt: observedAt, observedAt: observedAt)
    }

    /// host-a silent for 4 s (its links down), `made` seconds into the silence.
    func cutOff(_ controller: Controller, reportMadeAfter made: TimeInterval) async throws -> Date {
        let cut = clock.now
        for _ in 1...4 {
            clock.advance(1)
            _ = try await controller.heartbeat(host: "host-b", Heartbeat())
        }
        return cut.addingTimeInterval(made)
    }

    @Test func aStorageReportMadeWhileCutOffIsRefusedOnceTheHostIsBack() async throws {
        let controller = try await start()
        let made = try await cutOff(controller, reportMadeAfter: 1)
        await #expect(throws: TetherError.self) {
            try await controller.reportFault(report(.storage, observedAt: made), trigger: .selfTriggered)
        }
        #expect(try await controller.store.recentOperations(limit: 5).isEmpty, "no failover without a fault")
        let refused = await controller.events(after: 0, wait: .zero).events.filter { $0.kind == .fault && $0.to == "refused" }
        #expect(refused.count == 1 && refused.first?.detail.last?.contains("reports again if the fault still holds") == true, "\(refused)")
        // Still lost: the agent reports again, now, and is heard.
        let again = try await controller.reportFault(report(.storage, observedAt: clock.now), trigger: .selfTriggered)
        #expect(again.started.count == 1, "\(again)")
    }

    @Test func aReportFromAHostHeardThroughoutIsActedOn() async throws {
        let controller = try await start()
        clock.advance(1)
        _ = try await controller.heartbeat(host: "host-a", Heartbeat())
        // Made a moment before it arrives, and stamped by a clock running half a second ahead.
        let reply = try await controller.reportFault(report(.storage, observedAt: clock.now.addingTimeInterval(-0.5)), trigger: .selfTriggered)
        #expect(reply.started.count == 1, "\(reply)")
    }

    @Test func aCrashStaysACrashHoweverLateItsReport() async throws {
        let controller = try await start()
        let made = try await cutOff(controller, reportMadeAfter: 1)
        let reply = try await controller.reportFault(report(.crash, observedAt: made), trigger: .selfTriggered)
        #expect(reply.started.count == 1, "\(reply)")
    }
}

/// `tether status` lists every VM once, whatever the moment: a VM between its migration's
/// switchover and its resume on the target shows as migrating, never missing.
struct VMListingTests {
    static func host(_ name: String, _ vms: [(String, VMRunState)]) -> AgentRegistration {
        var registration = name == "host-a" ? ClusterFixtures.hostA : ClusterFixtures.hostB
        registration.vms = vms.map { vm, state in
            var registered = RegisteredVM(name: vm, cpus: 1, memoryMiB: 128, networkMbps: 100, datastore: "ds1", status: state)
            registered.monitor = "/run/\(name)/\(vm).monitor.qmp"
            return registered
        }
        return registration
    }

    @Test func aVMBetweenSwitchoverAndResumeShowsAsMigratingFromItsSource() {
        let listed = VMListing.vms(of: [Self.host("host-a", [("vm-a", .postmigrate)]), Self.host("host-b", [("vm-a", .inmigrate)])],
                                   heard: ["host-a", "host-b"])
        #expect(listed.map { "\($0.name) \($0.host) \($0.state)" } == ["vm-a host-a migrating"])
        #expect(listed.first?.monitor == "/run/host-a/vm-a.monitor.qmp")
    }

    @Test func aLeftoverBesideTheRunningCopyIsNotListed() {
        let listed = VMListing.vms(of: [Self.host("host-a", [("vm-a", .postmigrate)]), Self.host("host-b", [("vm-a", .running)])],
                                   heard: ["host-a", "host-b"])
        #expect(listed.map { "\($0.name) \($0.host) \($0.state)" } == ["vm-a host-b running"])
    }

    @Test func twoHeardCopiesAreBothShownAndAnUnheardHostsOldCopyIsNot() {
        let both = VMListing.vms(of: [Self.host("host-a", [("vm-a", .running)]), Self.host("host-b", [("vm-a", .running)])],
                                 heard: ["host-a", "host-b"])
        #expect(both.map(\.host) == ["host-a", "host-b"])
        let moved = VMListing.vms(of: [Self.host("host-a", [("vm-a", .running)]), Self.host("host-b", [("vm-a", .running)])],
                                  heard: ["host-b"])
        #expect(moved.map(\.host) == ["host-b"])
        let shutdown = VMListing.vms(of: [Self.host("host-a", [("vm-a", .shutdown)])], heard: ["host-a"])
        #expect(shutdown.isEmpty)
    }
}
