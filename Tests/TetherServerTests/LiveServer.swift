import Hummingbird
import HummingbirdCore
import TetherHTTP

/// A router served on a free loopback port until the value goes: for tests that need a real
/// socket (mutual TLS, a stream that never ends).
final class LiveServer: @unchecked Sendable {
    private(set) var port = 0
    private var task: Task<Void, any Error>?

    init(_ router: Router<APIContext>, server: HTTPServerBuilder = LoopAffineServer.http1()) async throws {
        let bound = AsyncStream<Int>.makeStream()
        let app = Application(router: router, server: server, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { bound.continuation.yield($0.localAddress?.port ?? 0) })
        task = Task { try await app.runService() }
        for await port in bound.stream {
            self.port = port
            break
        }
    }

    deinit { task?.cancel() }
}
