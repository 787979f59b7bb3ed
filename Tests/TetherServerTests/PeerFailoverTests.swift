import Agent
import ClusterStore
import Foundation
import Logging
import Testing
import TetherModel
@testable import Controller

/// A host that lost its management network moves its VMs itself (shared/spec/ha.md), against
/// simulated hosts: placed on the cluster view the controller pushed with its heartbeat replies,
/// journaled in the host's own journal, driven against the target's agent directly; handed to
/// the controller's journal once it answers again, once; and finished by a restarted agent
/// that died at any step, the VM never running twice.
struct PeerFailoverTests {
    let cluster: SimulatedCluster
    let stateDirectory: String
    var world: SimulatedHosts { cluster.world }
    static let evidence = ["no answer from the controller for 2.1 s", "no peer answers on the management network"]

    init() throws {
        cluster = try SimulatedCluster()
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("peer-failover-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
    }

    func peerFailover() throws -> PeerFailover {
        let world = self.world
        return try PeerFailover(agent: SimulatedAgent(host: "host-a", world: world), stateDirectory: stateDirectory,
                                connectPeer: { peer in SimulatedAgent(host: peer.host, world: world) },
                                timing: .init(stepDeadline: 5), logger: Logger(label: "test"))
    }

    /// host-a's agent with the view its controller pushed.
    func withView() async throws -> (Controller, PeerFailover) {
        let controller = try await cluster.registered()
        let reply = try await controller.heartbeat(host: "host-a", Heartbeat())
        #expect(reply.view != nil, "the first heartbeat carries the view")
        let again = try await controller.heartbeat(host: "host-a", Heartbeat(viewDigest: reply.view?.digest))
        #expect(again.view == nil, "an agent that has the view is not sent it again")
        let failover = try peerFailover()
        await failover.heard(reply, at: Date())
        return (controller, failover)
    }

    /// host-b's dongle forwarded to vm-a: the agent moving vm-a asks host-b's agent (a peer on
    /// the migration network) to serve the device to vm-a's new host, as the controller would.
    @Test func aMovedVMsForwardedDeviceFollowsIt() async throws {
        let (_, failover) = try await withView()
        let session = "vm-a/host-b/1-4"
        await world.add(export: session, on: "host-b", allow: ["host-a"])
        try await world.add(channel: session, on: "host-a", vm: "vm-a")
        let moves = await failover.failOver(since: Date(), evidence: Self.evidence)
        #expect(moves.first?.state == .completed, "\(moves.first?.error ?? "")")
        #expect(await world.exportAllows[session] == ["host-b"], "the device's host now serves vm-a's new host")
        #expect(await world.calls.contains("export:host-b"))
    }

    @Test func theHostMovesItsVMAndTheControllerJournalsItOnce() async throws {
        let (controller, failover) = try await withView()
        let moves = await failover.failOver(since: Date(), evidence: Self.evidence)
        let move = try #require(moves.first)
        #expect(moves.count == 1 && move.state == .completed, "\(move.error ?? "")")
        #expect(move.failover?.target == "host-b" && move.failover?.fault == .management && move.failover?.ranBy == "host-a")
        #expect(move.steps.filter { $0.phase == .done }.map(\.step) == ["prepare-incoming", "evacuate", "resume", "release-source"])
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
        #expect(await world.runningTwice.isEmpty)

        let handed = await failover.unreported()
        #expect(handed.map(\.id) == [move.id])
        let journaled = try await controller.adoptMoves(of: "host-a", handed)
        #expect(journaled.count == 1)
        await failover.markReported(handed.map(\.id))
        #expect(await failover.unreported().isEmpty)
        #expect(try await controller.adoptMoves(of: "host-a", handed).isEmpty, "a move handed over twice is journaled once")
        let record = try await controller.operation(try #require(journaled.first))
        #expect(record.state == .completed && record.failover?.ranBy == "host-a" && record.failover?.ranAs == move.id)
        #expect(record.steps == move.steps)
        let events = await controller.events(after: 0, wait: .zero).events
        #expect(events.filter { $0.kind == .fault && $0.subject == "management" && $0.from == "self" }.count == 1)
    }

    @Test func handingOverAnotherHostsMoveOrAnUnfinishedOneIsRefused() async throws {
        let (controller, failover) = try await withView()
        let moves = await failover.failOver(since: Date(), evidence: Self.evidence)
        await #expect(throws: TetherError.self) { try await controller.adoptMoves(of: "host-b", moves) }
        var unfinished = try #require(moves.first)
        unfinished.state = .running
        await #expect(throws: TetherError.self) { try await controller.adoptMoves(of: "host-a", [unfinished]) }
    }

    @Test func withoutAViewNothingMoves() async throws {
        _ = try await cluster.registered()
        let failover = try peerFailover()
        #expect(await failover.failOver(since: Date(), evidence: Self.evidence).isEmpty)
        #expect(await world.hosts(running: "vm-a") == ["host-a"])
    }

    @Test func theViewSurvivesARestartOfTheAgent() async throws {
        let (_, failover) = try await withView()
        let digest = await failover.viewDigest
        #expect(digest != nil)
        #expect(try await peerFailover().viewDigest == digest)
        #expect(FileManager.default.fileExists(atPath: "\(stateDirectory)/cluster-view.yaml"), "the view is a cluster file for `tether plan`")
    }

    @Test(arguments: ["prepareIncoming:host-b", "evacuate:host-a", "resume:host-b", "release:host-a"], [SimulatedHosts.Hang.before, .after])
    func anAgentThatDiesAtAnyStepFinishesTheMoveAfterARestart(_ call: String, _ when: SimulatedHosts.Hang) async throws {
        let (_, first) = try await withView()
        await world.hang(at: call, when)
        // The first agent stays stuck in the call, as a killed one would never come back.
        Task { await first.failOver(since: Date(), evidence: Self.evidence) }
        for _ in 0..<500 where !(await world.calls.contains(call)) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await world.calls.contains(call))
        let second = try peerFailover()
        await second.recover()
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
        #expect(await world.vms["host-a"]?["vm-a"] == nil, "the source's copy was released")
        #expect(await world.runningTwice.isEmpty, "the VM never ran on two hosts")
        #expect(await second.unreported().map(\.state) == [.completed])
    }
}
