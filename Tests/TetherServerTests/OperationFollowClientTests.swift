import Foundation
import Hummingbird
import Synchronization
import Testing
import TetherClient
import TetherHTTP
import TetherModel
import TetherTestSupport
@testable import Controller

/// `ControllerClient.follow` (the OCI hook, `tether attach`, the demo) over HTTP: each look is a
/// long poll the controller answers at the operation's next step or end; a controller that
/// answers at once (from before the long poll) is asked again after a growing pause, not in a
/// tight loop.
struct OperationFollowClientTests {
    let cluster: SimulatedCluster
    init() throws { cluster = try SimulatedCluster() }

    /// The in-process controller served on a unix socket, its forward attach held at the channel.
    func heldAttach() async throws -> (Controller, String, Task<Void, any Error>, String) {
        let controller = try await cluster.registered()
        await cluster.world.hold("openChannel:host-a")
        let id = try #require(try await controller.attach(OperationFollowTests.dongle).operation).id
        let socket = try Fixtures.temporaryDirectory().appendingPathComponent("api.sock").path
        let app = Application(router: ControllerRoutes.router(controller), server: LoopAffineServer.http1(),
                              configuration: .init(address: .unixDomainSocket(path: socket)))
        let server = Task { try await app.runService() }
        while !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(10)) }
        return (controller, id, server, socket)
    }

    @Test func followingAnAttachReportsEachStepAndReturnsAtItsEnd() async throws {
        let (_, id, server, socket) = try await heldAttach()
        defer { server.cancel() }
        let client = ControllerClient(APIClient(.unixSocket(socket)))
        let seen = Mutex<[String]>([])
        let release = Task {
            try await Task.sleep(for: .milliseconds(300))
            await cluster.world.release()
        }
        let record = try await client.follow(id, until: .now + .seconds(20), late: "late") { step in
            seen.withLock { $0.append("\(step.step):\(step.phase.rawValue)") }
        }
        try await release.value
        #expect(record.state == .completed)
        #expect(seen.withLock { $0 } == ["export:done", "channel:done"])
        await client.api.close()
    }

    @Test func aControllerThatAnswersAtOnceIsAskedAfterAGrowingPause() async throws {
        let (controller, id, server, _) = try await heldAttach()
        server.cancel()
        // What a controller from before the long poll says to every look: the unfinished record, at once.
        let unfinished = String(decoding: try APIJSON.encode(try await controller.operation(id)), as: UTF8.self)
        let scripted = try ScriptedHTTPServer { connection, _ in
            while connection.readRequest() != nil { connection.answer(unfinished) }
            connection.close()
        }
        defer { scripted.stop() }
        let client = ControllerClient(APIClient(.unixSocket(scripted.path)))
        await #expect { _ = try await client.follow(id, until: .now + .milliseconds(400), late: "still running") } throws: { error in
            (error as? TetherError)?.message == "still running"
        }
        let asked = scripted.requests
        #expect(asked.allSatisfy { $0.hasPrefix("GET /v1/operations/\(id)?after=") && $0.contains("&wait=") }, "\(asked.prefix(3))")
        // 5, 10, 20, 40, then 50 ms apart: about a dozen looks in 400 ms, not thousands.
        #expect(asked.count >= 3 && asked.count <= 20, "\(asked.count) looks")
        await client.api.close()
        await cluster.world.release()
    }
}
