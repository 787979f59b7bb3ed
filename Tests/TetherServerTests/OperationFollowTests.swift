import Foundation
import Testing
import TetherModel
@testable import Controller

/// Following an operation by long polls (`GET /v1/operations/ID?after=N&wait=S`): the controller
/// answers at the operation's next step or at its end, not at the wait's end, and at the wait's
/// end when nothing comes.
struct OperationFollowTests {
    let cluster: SimulatedCluster
    var world: SimulatedHosts { cluster.world }

    init() throws { cluster = try SimulatedCluster() }

    static let dongle = AttachRequest(container: "c1", device: .product(vendorId: "1a86", productId: "7523", serial: nil))

    /// The dongle's forward attach with its channel call held: export started and done, channel
    /// started, then nothing until the test releases host-a's agent.
    func heldAtTheChannel() async throws -> (Controller, String) {
        let controller = try await cluster.registered()
        await world.hold("openChannel:host-a")
        let id = try #require(try await controller.attach(Self.dongle).operation).id
        var record = try await controller.operation(id)
        while record.steps.count < 3 { record = try await controller.operation(id, after: record.steps.count, wait: .seconds(20)) }
        #expect(record.steps.map { "\($0.step):\($0.phase.rawValue)" } == ["export:started", "export:done", "channel:started"])
        return (controller, id)
    }

    @Test func aFollowerIsAnsweredAtTheNextStepNotAtTheEndOfItsWait() async throws {
        let (controller, id) = try await heldAtTheChannel()
        // Nothing happens: the answer comes at the wait's end, unchanged.
        let quiet = ContinuousClock.now
        let unchanged = try await controller.operation(id, after: 3, wait: .milliseconds(300))
        #expect(unchanged.steps.count == 3 && !unchanged.state.isFinished)
        #expect(ContinuousClock.now - quiet >= .milliseconds(300))

        let follower = Task { try await controller.operation(id, after: 3, wait: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        let released = ContinuousClock.now
        await world.release()
        let next = try await follower.value
        #expect(next.steps.count > 3, "the channel's step: \(next.steps.map(\.step))")
        #expect(ContinuousClock.now - released < .seconds(5), "answered at the step, not at the end of its 20 s wait")
    }

    /// Asking after the last step (4: the channel's done) leaves only the operation's end, which
    /// is written after its last step and must wake the follower too.
    @Test func aFollowerPastTheLastStepIsAnsweredAtTheOperationsEnd() async throws {
        let (controller, id) = try await heldAtTheChannel()
        let follower = Task { try await controller.operation(id, after: 4, wait: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        let released = ContinuousClock.now
        await world.release()
        let end = try await follower.value
        #expect(end.state == .completed, "\(end.state)")
        #expect(end.steps.count == 4)
        #expect(ContinuousClock.now - released < .seconds(5), "answered at the end, not at the end of its 20 s wait")
    }

    @Test func aCancelledFollowerEndsAtOnce() async throws {
        let (controller, id) = try await heldAtTheChannel()
        let follower = Task { try await controller.operation(id, after: 3, wait: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        let cancelled = ContinuousClock.now
        follower.cancel()
        let record = try await follower.value
        #expect(record.steps.count == 3)
        #expect(ContinuousClock.now - cancelled < .seconds(5))
        await world.release()
    }
}
