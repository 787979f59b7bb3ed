import ClusterStore
import Foundation
import Testing
import TetherModel
@testable import Controller

/// A dead host (silent on every network and datastore): its VMs are started from their disks
/// elsewhere only once its isolation deadline and the margin have passed since its last sign of
/// life, and never when nothing fenced them (a host that does not fence, an agent already gone).
/// Time is the test's: each round is a heartbeat of the living host and one health evaluation.
struct DeadHostTests {
    let clock = TestClock()
    let cluster: SimulatedCluster
    var world: SimulatedHosts { cluster.world }

    init() throws {
        // host-a's copy is fenced (paused) the way its agent leaves it when it finds itself isolated.
        cluster = try SimulatedCluster(vms: ["host-a": ["vm-a": .paused], "host-b": [:]])
    }

    static func hostA(fencing: FencingPolicy?) -> AgentRegistration {
        var host = ClusterFixtures.hostA
        host.fencing = fencing
        host.vms[0].launch = VMLaunch(name: "vm-a", memoryMiB: 128, cpus: 1, disk: "/var/lib/vm-a.img")
        return host
    }

    func start(_ hostA: AgentRegistration) async throws -> Controller {
        let world = self.world
        let controller = try await Controller(store: try SQLiteClusterStore(path: cluster.path), settings: .init(heartbeatTimeout: 2, stepDeadline: 5),
                                              connect: { SimulatedAgent(host: $0.host, world: world) }, now: clock.function)
        Task { await controller.runOperations() }
        try await controller.register(hostA)
        try await controller.register(ClusterFixtures.hostB)
        return controller
    }

    /// Rounds of one second until `seconds` have passed since host-a was last heard.
    func silence(_ controller: Controller, until seconds: Int, kernelAnswers: (Int) -> Bool? = { _ in false }) async throws {
        for second in 1...seconds {
            clock.advance(1)
            _ = try await controller.heartbeat(host: "host-b", Heartbeat())
            await controller.setKernelAnswers("host-a", kernelAnswers(second))
            await controller.evaluateHealth()
            await controller.actOnHealth()
        }
    }

    func operations(_ controller: Controller) async throws -> [OperationRecord] {
        try await controller.store.recentOperations(limit: 10)
    }

    @Test func aDeadHostsVMRestartsElsewhereOnlyAfterItsIsolationDeadline() async throws {
        let controller = try await start(Self.hostA(fencing: FencingPolicy(response: .pause, deadlineSeconds: 12)))
        await controller.evaluateHealth()
        try await silence(controller, until: 13)
        #expect(await controller.judgeHosts()["host-a"]?.condition.verdict == .dead)
        #expect(try await operations(controller).isEmpty, "dead at 10 s, but its deadline (12 s) and margin (2 s) run until 14 s")
        try await silence(controller, until: 1)
        let record = try #require(try await operations(controller).first, "restarted once 14 s have passed")
        let finished = try await cluster.finished(controller, record.id)
        #expect(finished.state == .completed, "\(finished.error ?? "")")
        let order = try #require(finished.failover)
        #expect(order.fault == .host && order.mode == .restart && order.from == "host-a" && order.target == "host-b")
        #expect(order.registeredVM?.launch?.disk == "/var/lib/vm-a.img", "the journal carries the launch figures")
        #expect(order.evidence.contains { $0.contains("isolation deadline (12 s, pause)") }, "\(order.evidence)")
        #expect(finished.steps.filter { $0.phase == .done }.map(\.step) == ["restart", "devices"])
        #expect(await world.calls.contains("startFromDisk:host-b"))
        #expect(await world.runningTwice.isEmpty)

        let status = try await controller.status()
        #expect(status.vms.filter { $0.name == "vm-a" }.map(\.host) == ["host-b"], "\(status.vms)")
        let view = try #require(try await controller.heartbeat(host: "host-b", Heartbeat()).view)
        let placed = try ClusterFile.decode(view.cluster, name: "view").vms.filter { $0.name == "vm-a" }.map(\.host)
        #expect(placed == ["host-b"], "the view a returning host-a reads shows vm-a on host-b, so it quits its fenced copy")
        #expect(try await operations(controller).count == 1, "acted on once")

        // host-a returns, its fenced copy left out of its registration: still one vm-a.
        var back = Self.hostA(fencing: FencingPolicy(response: .pause, deadlineSeconds: 12))
        back.vms = []
        try await controller.register(back)
        #expect(try await controller.status().vms.filter { $0.name == "vm-a" }.map(\.host) == ["host-b"])
    }

    /// While the restart is being decided, the view already shows the VM on its target: a
    /// heartbeat of the silent host from then on reads where it went.
    @Test func aRestartInFlightShowsOnItsTarget() async throws {
        let controller = try await start(Self.hostA(fencing: FencingPolicy(response: .pause, deadlineSeconds: 6)))
        await world.hang(at: "startFromDisk:host-b", .before)
        await controller.evaluateHealth()
        try await silence(controller, until: 11)
        let record = try #require(try await operations(controller).first)
        #expect(record.state == .running)
        let status = try await controller.status()
        #expect(status.vms.filter { $0.name == "vm-a" }.map { "\($0.host) \($0.state)" } == ["host-b restarting"], "\(status.vms)")
        // A controller restarted meanwhile takes up the claim, and finishes it.
        let next = try await start(Self.hostA(fencing: FencingPolicy(response: .pause, deadlineSeconds: 6)))
        _ = try await next.recover()
        let finished = try await cluster.finished(next, record.id)
        #expect(finished.state == .completed, "\(finished.error ?? "")")
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
        #expect(await world.runningTwice.isEmpty)
    }

    @Test(arguments: [
        ("no fencing", nil as FencingPolicy?, false),
        ("isolationResponse none", FencingPolicy(response: .none, deadlineSeconds: 6), false),
        ("agent down before the silence", FencingPolicy(response: .pause, deadlineSeconds: 6), true),
    ])
    func aDeadHostWhoseVMsNothingFencedIsHeldBack(_ why: String, _ fencing: FencingPolicy?, _ agentDownFirst: Bool) async throws {
        let controller = try await start(Self.hostA(fencing: fencing))
        await controller.evaluateHealth()
        // The agent gone, its kernel answering for 3 s, then silence.
        try await silence(controller, until: 20) { agentDownFirst && $0 <= 3 }
        #expect(await controller.judgeHosts()["host-a"]?.condition.verdict == .dead, "\(why)")
        #expect(try await operations(controller).isEmpty, "\(why): not restarted")
        let held = await controller.events(after: 0, wait: .zero).events.filter { $0.kind == .fault && $0.to == "held back" }
        #expect(held.count == 1, "\(why): said once, \(held)" as Comment)
        #expect(held.first?.detail.last?.contains("power the host off") == true, "\(held)")
        #expect(await world.calls.isEmpty)
    }

    /// vm-a had two devices: a key plugged into host-a itself, and host-b's dongle forwarded to
    /// it. Restarted on host-b, it gets the dongle again (local now); the key went with host-a
    /// and is listed as lost, with why, in the status and the journal.
    @Test func aDeadHostsVMGetsItsDevicesBackExceptThoseOfTheDeadHost() async throws {
        let running = try SimulatedCluster(vms: ["host-a": ["vm-a": .running], "host-b": [:]])
        let world = running.world
        var hostA = Self.hostA(fencing: FencingPolicy(response: .pause, deadlineSeconds: 6))
        hostA.devices = [RegisteredDevice(id: "1-9", vendorId: "0529", productId: "0001", product: "License key", periodicBytesPerSecond: 0)]
        let controller = try await Controller(store: try SQLiteClusterStore(path: running.path), settings: .init(heartbeatTimeout: 2, stepDeadline: 5),
                                              connect: { SimulatedAgent(host: $0.host, world: world) }, now: clock.function)
        Task { await controller.runOperations() }
        try await controller.register(hostA)
        try await controller.register(ClusterFixtures.hostB)
        for device in ["host-a/1-9", "host-b/1-4"] {
            let attach = try await controller.attach(AttachRequest(container: "c1", device: .port(try #require(DeviceRef(device)))))
            let done = try await running.finished(controller, try #require(attach.operation).id)
            #expect(done.state == .completed, "\(device): \(done.error ?? "")")
        }
        // host-a isolated: its copy fenced, then silent.
        _ = await world.fence("host-a")
        await world.setReachable("host-a", false)
        await controller.evaluateHealth()
        try await silence(controller, until: 12)
        let restart = try #require(try await controller.store.recentOperations(limit: 10).first { $0.failover?.fault == .host })
        let finished = try await running.finished(controller, restart.id)
        #expect(finished.state == .completed, "\(finished.error ?? "")")
        #expect(finished.steps.filter { $0.phase == .done }.map(\.step) == ["restart", "devices"])
        let devices = try #require(finished.steps.last?.detail)
        #expect(devices.contains("forwarded to host-b: vm-a/host-b/1-4") && devices.contains("vm-a/host-a/1-9 lost"), "\(devices)")

        let attachments = try await controller.status().attachments
        #expect(attachments.map { "\($0.id) on \($0.vmHost)" } == ["vm-a/host-a/1-9 on host-b", "vm-a/host-b/1-4 on host-b"])
        #expect(attachments.first?.lost?.contains("host-a, where the device is plugged in") == true, "\(attachments)")
        #expect(attachments.last?.lost == nil)
        #expect(await world.channels["host-b"] == ["vm-a/host-b/1-4"], "the dongle's channel ends on vm-a's new copy")
    }

    /// A move that reached host-b before host-a died (its stopped source never released, its
    /// last listing older): host-b runs the VM, and host-a's death restarts nothing.
    @Test func aDeadHostsListingOfAVMAHeardHostRunsRestartsNothing() async throws {
        let moved = try SimulatedCluster(vms: ["host-a": ["vm-a": .paused], "host-b": ["vm-a": .running]])
        let world = moved.world
        let controller = try await Controller(store: try SQLiteClusterStore(path: moved.path), settings: .init(heartbeatTimeout: 2, stepDeadline: 5),
                                              connect: { SimulatedAgent(host: $0.host, world: world) }, now: clock.function)
        Task { await controller.runOperations() }
        try await controller.register(Self.hostA(fencing: FencingPolicy(response: .pause, deadlineSeconds: 6)))
        var hostB = ClusterFixtures.hostB
        hostB.vms = Self.hostA(fencing: nil).vms
        try await controller.register(hostB)
        await controller.evaluateHealth()
        for _ in 1...20 {
            clock.advance(1)
            _ = try await controller.heartbeat(host: "host-b", Heartbeat())
            await controller.evaluateHealth()
            await controller.actOnHealth()
        }
        #expect(await controller.judgeHosts()["host-a"]?.condition.verdict == .dead)
        #expect(try await controller.store.recentOperations(limit: 10).isEmpty, "not restarted: host-b runs it")
        let faults = await controller.events(after: 0, wait: .zero).events.filter { $0.kind == .fault }
        #expect(faults.first?.detail.contains { $0.contains("vm-a runs on host-b, which is heard") } == true, "\(faults)")
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
        #expect(await world.calls.isEmpty)
    }

    @Test func aHostHeardAgainBeforeItsDeadlineKeepsItsVMs() async throws {
        let controller = try await start(Self.hostA(fencing: FencingPolicy(response: .pause, deadlineSeconds: 12)))
        await controller.evaluateHealth()
        try await silence(controller, until: 12)
        _ = try await controller.heartbeat(host: "host-a", Heartbeat())
        try await silence(controller, until: 1)
        #expect(try await operations(controller).isEmpty)
        #expect(try await controller.status().vms.filter { $0.name == "vm-a" }.map(\.host) == ["host-a"])
    }
}
