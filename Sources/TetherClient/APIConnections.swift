import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import TetherModel

/// Kept-alive HTTP/1.1 connections to each of an API client's servers, one request at a time on
/// each. A request takes an idle connection or opens one, and gives it back after a whole answer
/// that lets it stay open; requests in flight at once each have a connection (no queue: the
/// API's callers ask a few at a time). Made for the API's shape (small JSON both ways, one
/// answer per request), it spends less than half of AsyncHTTPClient's CPU per request (a dry-run
/// attach: 84 to 88 us against 182 to 191), which had been more than the controller's own.
final class APIConnections: Sendable {
    /// At most this many idle connections per server; more, in a burst, are closed after use.
    static let idleLimit = 16
    static let connectTimeout = TimeAmount.seconds(5)

    private let servers: [APIClient.Server]
    private let tls: NIOSSLContext?
    private let bodyLimit: Int
    private let idleTimeout: TimeAmount
    private let group: any EventLoopGroup
    private struct State {
        var idle: [[any Channel]]
        var closed = false
    }
    private let state: Mutex<State>

    init(servers: [APIClient.Server], tls: NIOSSLContext?, bodyLimit: Int, idleTimeout: TimeAmount,
         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.servers = servers
        self.idleTimeout = idleTimeout
        self.tls = tls
        self.bodyLimit = bodyLimit
        self.group = group
        state = Mutex(State(idle: Array(repeating: [], count: servers.count)))
    }

    /// An idle open connection to server `index`, or a new one by `deadline`; `reused` says which.
    func checkOut(_ index: Int, by deadline: NIODeadline) async throws -> (channel: any Channel, reused: Bool) {
        let kept: (any Channel)?? = state.withLock { state in
            guard !state.closed else { return .some(nil) }
            while let channel = state.idle[index].popLast() {
                if channel.isActive { return channel }
            }
            return nil
        }
        switch kept {
        case .some(nil): throw TetherError(.invalidArgument, "the API client was closed")
        case .some(.some(let channel)): return (channel, true)
        case .none: return (try await connect(index, by: deadline), false)
        }
    }

    /// Gives back a connection after a whole answer that keeps it open.
    func checkIn(_ channel: any Channel, _ index: Int) {
        let kept = state.withLock { state in
            guard !state.closed, channel.isActive, state.idle[index].count < Self.idleLimit else { return false }
            state.idle[index].append(channel)
            return true
        }
        if !kept { channel.close(promise: nil) }
    }

    /// A client dropped without `close()` leaves no connection open behind it.
    deinit {
        for channel in state.withLock({ $0.idle.flatMap { $0 } }) { channel.close(promise: nil) }
    }

    /// Closes the idle connections; connections in use close as their requests end.
    func close() async {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle = state.idle.map { _ in [] } }
            return state.idle.flatMap { $0 }
        }
        for channel in idle { try? await channel.close() }
    }

    func connect(_ index: Int, by deadline: NIODeadline) async throws -> any Channel {
        // TLS for a TLS server only: a unix socket is this machine's, and its permissions decide.
        let tls: NIOSSLContext? = if case .tls = servers[index] { self.tls } else { nil }
        let bodyLimit = self.bodyLimit, idleTimeout = self.idleTimeout
        let left = deadline - .now()
        guard left > .zero else { throw HTTPExchangeFailure.timedOut }
        // On the caller's own event loop when it runs on one of the group's (a task that prefers
        // a loop as its executor): the answer then resumes it without waking another thread.
        let bootstrap = ClientBootstrap(group: group.any())
            .connectTimeout(min(Self.connectTimeout, left))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls { try pipeline.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try pipeline.addHandler(HTTPExchangeHandler(bodyLimit: bodyLimit))
                }
            }
        let channel: any Channel
        switch servers[index] {
        case .unixSocket(let path):
            // No socket file: no daemon. Said at once, and as such (a connect says only ENOENT).
            guard access(path, F_OK) == 0 else { throw TetherError(.notFound, "\(path) does not exist") }
            channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
        case .tls(let address): channel = try await bootstrap.connect(host: address.host, port: address.port).get()
        }
        // A connection the server closes while idle leaves the pool at once, not at its next use.
        channel.closeFuture.whenComplete { [weak self] _ in self?.forget(channel, index) }
        return channel
    }

    private func forget(_ channel: any Channel, _ index: Int) {
        state.withLock { state in state.idle[index].removeAll { $0 === channel } }
    }
}
