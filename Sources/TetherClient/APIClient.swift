import Channel
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import Synchronization
import TetherModel

/// Talks to a tetherd API: over its local unix socket, or over mutual TLS with a certificate
/// from the cluster CA. Every failure comes back as a TetherError that says what to do, the
/// server's own JSON error when it sent one.
public final class APIClient: Sendable {
    public enum Server: Sendable, CustomStringConvertible {
        case unixSocket(String)
        case tls(HostPort)

        public var description: String {
            switch self {
            case .unixSocket(let path): path
            case .tls(let address): "https://\(address)"
            }
        }
    }

    /// The server asked first; `servers` has every one, for a cluster of controllers.
    public var server: Server { servers[preferred.withLock { $0 }] }
    public let servers: [Server]
    /// The one that answered last: a leader stays asked until it stops answering.
    private let preferred = Mutex(0)
    private let connections: APIConnections
    /// What the Host header names for each server.
    private let hosts: [String]
    private let timeout: TimeAmount
    /// Why the TLS identity cannot be used, said at each request (an init that cannot fail is
    /// what every caller has; a bad identity is as unreachable a server as a dead one).
    private let tlsFailure: TetherError?

    public convenience init(_ server: Server, identity: TLSIdentity? = nil, timeout: TimeAmount = .seconds(30)) {
        self.init(servers: [server], identity: identity, timeout: timeout)
    }

    /// Several controllers of one cluster: each request goes to the one that answered last, and
    /// on to the next when that one cannot be reached or does not lead (`notLeader`). Answers
    /// longer than `bodyLimit` bytes are refused (the longest, a cluster's status, is far below).
    /// A connection kept for the next request is closed after `idleTimeout` unused: a
    /// controller calls each of a thousand agents now and then, and need not hold a connection
    /// to each between calls.
    public init(servers: [Server], identity: TLSIdentity? = nil, timeout: TimeAmount = .seconds(30), bodyLimit: Int = 64 << 20,
                idleTimeout: TimeAmount = .seconds(60)) {
        precondition(!servers.isEmpty, "an API client needs a server")
        self.servers = servers
        self.timeout = timeout
        var context: NIOSSLContext?
        var tlsFailure: TetherError?
        if let identity {
            do { context = try NIOSSLContext(configuration: identity.configuration(server: false)) } catch {
                tlsFailure = TetherError(.invalidArgument, "cannot set up TLS with certificate '\(identity.name)'", cause: "\(error)")
            }
        } else {
            // Every TLS server of a cluster asks for this end's certificate (mutual TLS).
            tlsFailure = TetherError(.invalidArgument, "a tetherd on TLS needs this end's certificate from the cluster CA, and none is configured "
                                     + "(the tls section of tetherd's configuration, or --tls-dir)")
        }
        self.tlsFailure = tlsFailure
        hosts = servers.map { server in
            switch server {
            case .unixSocket: "localhost"
            case .tls(let address): address.description
            }
        }
        connections = APIConnections(servers: servers, tls: context, bodyLimit: bodyLimit, idleTimeout: idleTimeout)
    }

    /// Closes the connection pool; the client cannot be used after.
    public func close() async {
        await connections.close()
    }

    public func get<Reply: Decodable>(_ path: String, as type: Reply.Type = Reply.self) async throws(TetherError) -> Reply {
        try decode(type, try await send(.GET, path, body: nil))
    }

    public func post<Reply: Decodable>(_ path: String, _ body: some Encodable, as type: Reply.Type = Reply.self) async throws(TetherError) -> Reply {
        try decode(type, try await send(.POST, path, body: try encode(body)))
    }

    /// A POST whose answer has no body worth reading (204, or an echo).
    public func post(_ path: String, _ body: some Encodable) async throws(TetherError) {
        _ = try await send(.POST, path, body: try encode(body))
    }

    private func encode(_ body: some Encodable) throws(TetherError) -> Data {
        do { return try APIJSON.encode(body) } catch {
            throw TetherError(.internalError, "cannot encode the request", cause: "\(error)")
        }
    }

    private func decode<Reply: Decodable>(_ type: Reply.Type, _ body: ByteBuffer) throws(TetherError) -> Reply {
        do {
            return try body.withUnsafeReadableBytes { bytes in try APIJSON.decode(type, from: bytes) }
        } catch {
            throw TetherError(.io, "tetherd at \(server) sent an answer this client cannot read", cause: APIJSON.describe(error))
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, body: Data?) async throws(TetherError) -> ByteBuffer {
        let first = preferred.withLock { $0 }
        var failure: TetherError?
        for attempt in 0..<servers.count {
            let index = (first + attempt) % servers.count
            do {
                let reply = try await send(method, path, body: body, to: index)
                if index != first { preferred.withLock { $0 = index } }
                return reply
            } catch {
                // A cancelled request is over: the next server is not asked.
                if Task.isCancelled { throw TetherError(.interrupted, "\(method) \(path) was cancelled", cause: error.description) }
                // Another controller may lead, or be up: unless this was the last, ask it.
                guard servers.count > 1, error.code == .notLeader || Self.isUnreachable(error) else { throw error }
                failure = error
            }
        }
        throw failure ?? TetherError(.internalError, "no server was asked")
    }

    private static func isUnreachable(_ error: TetherError) -> Bool {
        error.message.hasPrefix("cannot reach tetherd")
    }

    private func send(_ method: HTTPMethod, _ path: String, body: Data?, to index: Int) async throws(TetherError) -> ByteBuffer {
        let server = servers[index]
        if let tlsFailure, case .tls = server { throw tlsFailure }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: Self.onTheWire(path))
        head.headers.add(name: "Host", value: hosts[index])
        var payload: ByteBuffer?
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.count))
            payload = ByteBuffer(bytes: body)
        }
        let reply: HTTPReply
        do {
            reply = try await exchange(head, payload, on: index)
        } catch let error as HTTPParserError {
            throw TetherError(.io, "tetherd at \(server) answered with something that is not HTTP", cause: "\(error)")
        } catch HTTPExchangeFailure.bodyTooLarge(let limit) {
            throw TetherError(.io, "tetherd at \(server) sent an answer longer than \(limit) bytes to \(method) \(path)")
        } catch HTTPExchangeFailure.timedOut {
            // Said here, where the request's time is known (the connect and the answer share it).
            throw TetherError(.timeout, "tetherd at \(server) did not answer in time: no whole answer to \(method) \(path) "
                              + "within \(timeout.nanoseconds / 1_000_000) ms")
        } catch HTTPExchangeFailure.closedMidReply {
            // Not sent again: the server read it, and may have acted on it.
            throw TetherError(.io, "tetherd at \(server) closed the connection in the middle of its answer to \(method) \(path)")
        } catch {
            throw Self.unreachable(server, error)
        }
        guard (200..<300).contains(reply.status.code) else {
            if let failure = try? reply.body.withUnsafeReadableBytes({ try APIJSON.decode(APIErrorBody.self, from: $0) }) {
                throw failure.tetherError
            }
            throw TetherError(.io, "tetherd at \(server) answered \(reply.status.code) \(reply.status.reasonPhrase) to \(method) \(path)")
        }
        return reply.body
    }

    /// One request and its whole answer, on a kept connection when there is one, all within
    /// `timeout`. A kept connection can end under a request: a restarted or failed-over
    /// controller closes every connection, and a connection the server closes as the request
    /// goes out looks the same as a server that read it and died. So the request goes once
    /// more, on a new connection, only when it is known not to have left (the connection closed
    /// first), or when it is a GET, which asks and changes nothing.
    private func exchange(_ head: HTTPRequestHead, _ body: ByteBuffer?, on index: Int) async throws -> HTTPReply {
        let deadline = NIODeadline.now() + timeout
        var (channel, reused) = try await connections.checkOut(index, by: deadline)
        while true {
            do {
                let reply = try await exchange(head, body, on: channel, by: deadline)
                if reply.keepAlive { connections.checkIn(channel, index) } else { channel.close(promise: nil) }
                return reply
            } catch let failure as HTTPExchangeFailure where reused && !Task.isCancelled && Self.mayResend(head.method, after: failure) {
                (channel, reused) = (try await connections.connect(index, by: deadline), false)
            }
        }
    }

    static func mayResend(_ method: HTTPMethod, after failure: HTTPExchangeFailure) -> Bool {
        switch failure {
        case .notSent: true
        case .closedBeforeReply: method == .GET
        default: false
        }
    }

    private func exchange(_ head: HTTPRequestHead, _ body: ByteBuffer?, on channel: any Channel, by deadline: NIODeadline) async throws -> HTTPReply {
        let reply = channel.eventLoop.makePromise(of: HTTPReply.self)
        let exchange = HTTPExchange(head: head, body: body, deadline: deadline, reply: reply)
        return try await withTaskCancellationHandler {
            // On the connection's loop: open, its handler takes the exchange and answers it
            // whatever happens next; closed (its handlers may be gone), nothing was sent. A
            // write's own promise would cost a future per request, for what this check says.
            channel.eventLoop.execute {
                guard channel.isActive else { return reply.fail(HTTPExchangeFailure.notSent) }
                channel.writeAndFlush(exchange, promise: nil)
            }
            return try await reply.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// The path as the request line carries it: percent-encoded where a name holds what a URL
    /// may not (a space), so that the server, not the HTTP layer, says what is wrong with it.
    static func onTheWire(_ path: String) -> String {
        guard path.utf8.contains(where: { !Self.plainURLByte($0) }) else { return path }
        let (route, query) = path.firstIndex(of: "?").map { (path[..<$0], path[$0...].dropFirst()) } ?? (path[...], nil)
        let encodedRoute = route.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? String(route)
        guard let query else { return encodedRoute }
        return encodedRoute + "?" + (query.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? String(query))
    }

    private static func plainURLByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"), UInt8(ascii: "?"),
             UInt8(ascii: "="), UInt8(ascii: "&"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: ","), UInt8(ascii: "+"): true
        default: false
        }
    }

    static func unreachable(_ server: Server, _ error: any Error) -> TetherError {
        let text = "\(error)"
        if text.contains("timeout") || text.contains("Timeout") || text.contains("deadlineExceeded") {
            return TetherError(.timeout, "tetherd at \(server) did not answer in time", cause: text)
        }
        switch server {
        case .unixSocket(let path):
            return TetherError(.io, "cannot reach tetherd at \(path); is it running? (start it with `tetherd --role controller`)", cause: text)
        case .tls:
            return TetherError(.io, "cannot reach tetherd at \(server)", cause: text)
        }
    }
}
