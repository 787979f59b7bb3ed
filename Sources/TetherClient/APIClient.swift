import AsyncHTTPClient
import Channel
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
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
    private let http: HTTPClient
    /// Each server's URL up to the path, made once: percent-encoding a socket's path for every
    /// request was a twentieth of a dry-run decision's time, the client's and the controller's.
    private let bases: [String]
    private let timeout: TimeAmount

    public convenience init(_ server: Server, identity: TLSIdentity? = nil, timeout: TimeAmount = .seconds(30)) {
        self.init(servers: [server], identity: identity, timeout: timeout)
    }

    /// Several controllers of one cluster: each request goes to the one that answered last, and
    /// on to the next when that one cannot be reached or does not lead (`notLeader`).
    public init(servers: [Server], identity: TLSIdentity? = nil, timeout: TimeAmount = .seconds(30)) {
        precondition(!servers.isEmpty, "an API client needs a server")
        self.servers = servers
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        if let identity { configuration.tlsConfiguration = identity.configuration(server: false) }
        configuration.timeout = .init(connect: .seconds(5))
        configuration.httpVersion = .http1Only
        // Per request, the API's own answers need neither: it never redirects, and a tracer
        // nobody installed still made a span for every request.
        configuration.redirectConfiguration = .disallow
        configuration.tracing.tracer = nil
        bases = servers.map(Self.base)
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    /// Closes the connection pool; the client cannot be used after.
    public func close() async {
        try? await http.shutdown()
    }

    private static func base(_ server: Server) -> String {
        switch server {
        case .unixSocket(let socket):
            "http+unix://" + (socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socket)
        case .tls(let address):
            "https://\(address)"
        }
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
        // No socket file: no daemon. Said at once (the HTTP client would retry until its connect timeout).
        if case .unixSocket(let socket) = server, access(socket, F_OK) != 0 {
            throw Self.unreachable(server, TetherError(.notFound, "\(socket) does not exist"))
        }
        var request = HTTPClientRequest(url: bases[index] + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let buffer: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
            buffer = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw Self.unreachable(server, error)
        }
        guard (200..<300).contains(response.status.code) else {
            if let failure = try? APIJSON.decoder().decode(APIErrorBody.self, from: Data(buffer: buffer)) {
                throw failure.tetherError
            }
            throw TetherError(.io, "tetherd at \(server) answered \(response.status.code) \(response.status.reasonPhrase) to \(method) \(path)")
        }
        return buffer
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
