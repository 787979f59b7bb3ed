import ClusterStore
import Foundation
import Testing
import TetherClient
import TetherModel
@testable import Controller

/// The journaled operations against simulated hosts: each step recorded before and after, a
/// failure undone, a silent agent retried, and a controller that dies at any step finishing the
/// job after a restart on the same journal, with the VM running on exactly one host throughout.
struct OperationRunnerTests {
    let cluster: SimulatedCluster
    var world: SimulatedHosts { cluster.world }

    init() throws { cluster = try SimulatedCluster() }

    func controller() async throws -> Controller { try await cluster.controller() }
    func registered() async throws -> Controller { try await cluster.registered() }
    func finished(_ controller: Controller, _ id: String) async throws -> OperationRecord { try await cluster.finished(controller, id) }

    static let dongle = AttachRequest(container: "c1", device: .product(vendorId: "1a86", productId: "7523", serial: nil))
    static let webcam = AttachRequest(container: "c1", device: .product(vendorId: "046d", productId: "0825", serial: nil))

    func steps(_ record: OperationRecord) -> [String] { record.steps.map { "\($0.step):\($0.phase.rawValue)" } }

    @Test func aForwardAttachJournalsEachStepAndOpensTheChannel() async throws {
        let controller = try await registered()
        let response = try await controller.attach(Self.dongle)
        #expect(response.decision.action == .forward)
        let record = try await finished(controller, try #require(response.operation).id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        #expect(steps(record) == ["export:started", "export:done", "channel:started", "channel:done"])
        let session = "vm-a/host-b/1-4"
        #expect(await world.exports["host-b"] == [session])
        #expect(await world.channels["host-a"] == [session])
        let attachments = try await controller.status().attachments
        #expect(attachments.map(\.id) == [session])
        #expect(attachments.first?.mode == .forward)
        let again = try await controller.attach(Self.dongle)
        #expect(again.operation == nil, "attaching it again changes nothing")
        // The warm model knows the owner: the webcam's migration now brings the dongle along.
        #expect(try await controller.decide(Self.webcam).forwardedAfterMove == nil, "the dongle is on host-b, where vm-a would go")
    }

    /// The source reports its migration done once it sent the last state; a loaded target is
    /// still `inmigrate` while it loads it. That is no failed migration: the source is released.
    @Test func aTargetStillLoadingTheStateIsWaitedFor() async throws {
        let controller = try await registered()
        await world.setTargetLoadingPolls(3)
        let response = try await controller.attach(Self.webcam)
        let record = try await finished(controller, try #require(response.operation).id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
        #expect(await world.vms["host-a"]?["vm-a"] == nil, "the source's stopped copy was quit")
        #expect(await world.runningTwice.isEmpty)
    }

    @Test func aMigrationAttachMovesTheVMOnceAndAttachesLocally() async throws {
        let controller = try await registered()
        let response = try await controller.attach(Self.webcam)
        #expect(response.decision.action == .migrate)
        let record = try await finished(controller, try #require(response.operation).id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        #expect(steps(record) == ["prepare-incoming:started", "prepare-incoming:done", "migrate:started", "migrate:done",
                                  "release-source:started", "release-source:done", "export:started", "export:done",
                                  "channel:started", "channel:done"])
        #expect(await world.hosts(running: "vm-a") == ["host-b"])
        #expect(await world.vms["host-a"]?["vm-a"] == nil, "the source's stopped copy was quit")
        #expect(await world.runningTwice.isEmpty)
        #expect(await world.channels["host-b"] == ["vm-a/host-b/1-3"])
        let attachment = try #require(try await controller.status().attachments.first)
        #expect(attachment.mode == .local && attachment.vmHost == "host-b")
        // The warm model moved the VM too: the dongle on host-b is now local to it.
        #expect(try await controller.decide(Self.dongle).action == .local)
    }

    @Test func aStepThatFailsIsUndoneAndNothingIsLeftBehind() async throws {
        let controller = try await registered()
        await world.fail("openChannel:host-a", with: [TetherError(.unsupported, "QEMU on host-a has no xHCI controller")])
        let response = try await controller.attach(Self.dongle)
        let record = try await finished(controller, try #require(response.operation).id)
        #expect(record.state == .rolledBack)
        #expect(record.error?.contains("no xHCI controller") == true)
        #expect(steps(record) == ["export:started", "export:done", "channel:started", "channel:failed",
                                  "undo:close-channel:started", "undo:close-channel:done", "undo:stop-export:started", "undo:stop-export:done"],
                "the undo is journaled step by step too")
        #expect(await world.exports["host-b"]?.isEmpty ?? true, "the export was stopped")
        #expect(await world.channels["host-a"]?.isEmpty ?? true)
        #expect(try await controller.status().attachments.isEmpty)
        let retry = try await controller.attach(Self.dongle)
        #expect(retry.operation != nil, "the device is free again")
    }

    @Test func anAgentThatDoesNotAnswerIsAskedAgain() async throws {
        let controller = try await registered()
        await world.fail("export:host-b", with: [TetherError(.io, "connection refused"), TetherError(.timeout, "no answer")])
        let response = try await controller.attach(Self.dongle)
        let record = try await finished(controller, try #require(response.operation).id)
        #expect(record.state == .completed)
        #expect(await world.calls.filter { $0 == "export:host-b" }.count == 3)
    }

    @Test func aMigrationThatFailsQuitsTheWaitingTargetAndKeepsTheSource() async throws {
        let controller = try await registered()
        await world.fail("startMigration:host-a", with: [TetherError(.unsupported, "target refused the stream")])
        let response = try await controller.attach(Self.webcam)
        let record = try await finished(controller, try #require(response.operation).id)
        #expect(record.state == .rolledBack)
        #expect(await world.hosts(running: "vm-a") == ["host-a"])
        #expect(await world.vms["host-b"]?["vm-a"] == nil, "the target that waited in vain was quit")
    }

    struct Crash: Sendable, CustomTestStringConvertible {
        var webcam: Bool
        var call: String
        var when: SimulatedHosts.Hang
        var testDescription: String { "\(webcam ? "migrate" : "forward"): dies \(when == .before ? "before" : "after") \(call)" }
    }

    static let crashes: [Crash] = [
        Crash(webcam: false, call: "export:host-b", when: .before), Crash(webcam: false, call: "export:host-b", when: .after),
        Crash(webcam: false, call: "openChannel:host-a", when: .before), Crash(webcam: false, call: "openChannel:host-a", when: .after),
        Crash(webcam: true, call: "prepareIncoming:host-b", when: .before), Crash(webcam: true, call: "prepareIncoming:host-b", when: .after),
        Crash(webcam: true, call: "startMigration:host-a", when: .before), Crash(webcam: true, call: "startMigration:host-a", when: .after),
        Crash(webcam: true, call: "release:host-a", when: .before), Crash(webcam: true, call: "release:host-a", when: .after),
        Crash(webcam: true, call: "export:host-b", when: .before), Crash(webcam: true, call: "openChannel:host-b", when: .after),
    ]

    @Test(arguments: crashes)
    func aControllerThatDiesAtAnyStepFinishesAfterARestart(_ crash: Crash) async throws {
        let first = try await registered()
        await world.hang(at: crash.call, crash.when)
        let response = try await first.attach(crash.webcam ? Self.webcam : Self.dongle)
        let id = try #require(response.operation).id
        for _ in 0..<500 where !(await world.calls.contains(crash.call)) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await world.calls.contains(crash.call))
        // The first controller is stuck for good there, as if killed; a new one opens the journal.
        let second = try await controller()
        #expect(try await second.recover() == [id])
        let record = try await finished(second, id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        let host = crash.webcam ? "host-b" : "host-a"
        #expect(await world.hosts(running: "vm-a") == [host])
        #expect(await world.runningTwice.isEmpty, "the VM never ran on two hosts")
        #expect(await world.channels[host]?.count == 1)
        #expect(try await second.status().attachments.count == 1)
        #expect(try await second.recover().isEmpty, "nothing left to finish")
    }
}
