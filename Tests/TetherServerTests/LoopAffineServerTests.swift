import Channel
import Foundation
import Hummingbird
import HummingbirdCore
import Testing
import TetherClient
@testable import TetherHTTP
import TetherModel
import TetherTestSupport

/// tetherd's servers handle each connection's requests on that connection's own event loop
/// (`LoopAffineServer`), plain and over mutual TLS; Hummingbird's own builders hand every
/// request to a task on the concurrency pool.
@Suite struct LoopAffineServerTests {
    /// A route that says whether its handler runs on its connection's event loop.
    static func router() -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.get("where") { _, context in try APIBody.json(["onItsConnectionsLoop": context.channel.eventLoop.inEventLoop]) }
        return router
    }

    static func onItsLoop(_ client: APIClient) async throws -> Bool? {
        defer { Task { await client.close() } }
        var answers: [Bool?] = []
        // Several requests on the kept connection: every one of them, not only the first.
        for _ in 0..<5 { answers.append(try await client.get("/where", as: [String: Bool].self)["onItsConnectionsLoop"]) }
        return answers.allSatisfy { $0 == answers[0] } ? answers[0] : nil
    }

    /// Serves the route on a unix socket with `server` until the returned task is cancelled.
    static func serve(_ server: HTTPServerBuilder, at socket: String) async throws -> Task<Void, any Error> {
        let app = Application(router: router(), server: server, configuration: .init(address: .unixDomainSocket(path: socket)))
        let task = Task { try await app.runService() }
        while !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(10)) }
        return task
    }

    @Test func plainRequestsAreHandledOnTheirConnectionsLoop() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        let affine = try await Self.serve(LoopAffineServer.http1(), at: "\(directory)/affine.sock")
        defer { affine.cancel() }
        #expect(try await Self.onItsLoop(APIClient(.unixSocket("\(directory)/affine.sock"))) == true)
        // What the test tells apart: Hummingbird's own builder does not.
        let pooled = try await Self.serve(.http1(), at: "\(directory)/pooled.sock")
        defer { pooled.cancel() }
        #expect(try await Self.onItsLoop(APIClient(.unixSocket("\(directory)/pooled.sock"))) == false)
    }

    @Test func mutualTLSRequestsAreHandledOnTheirConnectionsLoop() async throws {
        let pki = try Fixtures.temporaryDirectory().path
        _ = try ClusterCA.initialize(in: pki)
        _ = try ClusterCA.issue(name: "controller", in: pki)
        _ = try ClusterCA.issue(name: "host-b", in: pki)
        let server = try await LiveServer(Self.router(), server: LoopAffineServer.tls(try TLSIdentity(directory: pki, name: "controller").configuration(server: true)))
        let client = APIClient(servers: [.tls(HostPort(host: "127.0.0.1", port: server.port))], identity: try TLSIdentity(directory: pki, name: "host-b"))
        #expect(try await Self.onItsLoop(client) == true)
    }
}
