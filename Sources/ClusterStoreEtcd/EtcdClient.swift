import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import NIOSSL
import Synchronization
import TetherModel

/// A client of etcd's v3 API through its JSON gateway (HTTP/1.1 with keep-alive, TLS with a
/// client certificate when configured). It speaks to one member at a time and moves to the next
/// when that one cannot be reached; a member that answers, even with an error, is kept.
public final class EtcdClient: Sendable {
    public struct TLSFiles: Sendable, Equatable, Codable {
        /// The CA that signed the members' certificates.
        public var ca: String
        /// This client's certificate and key (`--client-cert-auth` on the members).
        public var cert: String
        public var key: String

        public init(ca: String, cert: String, key: String) {
            self.ca = ca
            self.cert = cert
            self.key = key
        }
    }

    public let endpoints: [HostPort]
    public let tls: TLSFiles?
    /// How long one request may take. A cluster without quorum holds writes and linearizable
    /// reads until its own request timeout (7 s at etcd's defaults); this one is shorter, so
    /// that a controller learns it cannot write while it still has time to stop acting.
    public let timeout: Duration
    private let http: HTTPClient
    private let current = Mutex(0)
    /// Requests answered, for the benchmark's writes-per-attach figure.
    private let counts = Mutex((reads: 0, writes: 0))

    public init(endpoints: [HostPort], tls: TLSFiles? = nil, timeout: Duration = .seconds(3)) throws(TetherError) {
        guard !endpoints.isEmpty else { throw TetherError(.invalidArgument, "an etcd store needs at least one HOST:PORT") }
        self.endpoints = endpoints
        self.tls = tls
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        configuration.httpVersion = .http1Only
        configuration.timeout = .init(connect: .seconds(1))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        if let tls {
            var settings = TLSConfiguration.makeClientConfiguration()
            do {
                settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tls.ca))
                settings.certificateChain = try NIOSSLCertificate.fromPEMFile(tls.cert).map { .certificate($0) }
                settings.privateKey = .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem))
            } catch {
                throw TetherError(.invalidArgument, "cannot read the etcd client's TLS files (\(tls.ca), \(tls.cert), \(tls.key))", cause: "\(error)")
            }
            configuration.tlsConfiguration = settings
        }
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    public func close() async {
        try? await http.shutdown()
    }

    /// A client dropped without `close()` (a store that outlived its controller) shuts its
    /// connections down on its way out; closing twice is harmless.
    deinit {
        http.shutdown(queue: .global()) { _ in }
    }

    public var description: String { "etcd://" + endpoints.map(\.description).joined(separator: ",") }

    /// Requests sent so far (reads, writes): a write is a transaction with a put or a delete.
    public var requestCounts: (reads: Int, writes: Int) { counts.withLock { $0 } }

    // MARK: the API

    /// Writes one key (plain text): a probe that the cluster takes writes.
    public func put(_ key: String, _ value: String) async throws(TetherError) {
        try await txn(.init(compare: [], success: [.put(.init(key: Data(key.utf8), value: Data(value.utf8)))], failure: []))
    }

    /// Reads one key as text; nil when it is absent.
    public func get(_ key: String) async throws(TetherError) -> String? {
        try await range(.init(key: Data(key.utf8))).kvs.first.map { String(decoding: $0.value, as: UTF8.self) }
    }

    func range(_ request: EtcdWire.RangeRequest) async throws(TetherError) -> EtcdWire.RangeResponse {
        counts.withLock { $0.reads += 1 }
        return try await retryingReads("kv/range") { () async throws(TetherError) in try await call("kv/range", request, as: EtcdWire.RangeResponse.self) }
    }

    @discardableResult
    func txn(_ request: EtcdWire.TxnRequest) async throws(TetherError) -> EtcdWire.TxnResponse {
        let writes = (request.success + request.failure).contains { if case .range = $0 { false } else { true } }
        counts.withLock { if writes { $0.writes += 1 } else { $0.reads += 1 } }
        guard !writes else { return try await call("kv/txn", request, as: EtcdWire.TxnResponse.self) }
        return try await retryingReads("kv/txn") { () async throws(TetherError) in try await call("kv/txn", request, as: EtcdWire.TxnResponse.self) }
    }

    func grant(ttl: Int64) async throws(TetherError) -> EtcdWire.LeaseGrant {
        try await call("lease/grant", EtcdWire.LeaseGrantRequest(ttl: ttl), as: EtcdWire.LeaseGrant.self)
    }

    /// Renews a lease; nil when etcd no longer has it (expired or revoked).
    func keepAlive(_ lease: Int64, timeout: Duration) async throws(TetherError) -> EtcdWire.LeaseGrant? {
        let reply = try await call("lease/keepalive", EtcdWire.LeaseID(id: lease), as: EtcdWire.LeaseKeepAlive.self, timeout: timeout)
        guard let result = reply.result, result.ttl > 0 else { return nil }
        return result
    }

    func revoke(_ lease: Int64) async throws(TetherError) {
        _ = try await call("lease/revoke", EtcdWire.LeaseID(id: lease), as: EtcdWire.Failure.self)
    }

    // MARK: transport

    /// A read that met a member between leaders ("leader changed", "no leader": unavailable) is
    /// asked again, of the next member, for up to the client's timeout: an election takes a
    /// second or two. A write is not: it may have been applied, and the caller must know.
    private func retryingReads<T>(_ path: String, _ read: () async throws(TetherError) -> T) async throws(TetherError) -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                return try await read()
            } catch where error.message.contains("is unavailable") && ContinuousClock.now < deadline {
                current.withLock { $0 = ($0 + 1) % endpoints.count }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private func call<Reply: Decodable>(_ path: String, _ body: some Encodable, as type: Reply.Type,
                                        timeout: Duration? = nil) async throws(TetherError) -> Reply {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch {
            throw TetherError(.internalError, "cannot encode an etcd request", cause: "\(error)")
        }
        let start = current.withLock { $0 }
        var unreachable: [String] = []
        for attempt in 0..<endpoints.count {
            let index = (start + attempt) % endpoints.count
            let endpoint = endpoints[index]
            var request = HTTPClientRequest(url: "\(tls == nil ? "http" : "https")://\(endpoint)/v3/\(path)")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
            let response: HTTPClientResponse
            let buffer: ByteBuffer
            do {
                let limit = timeout ?? self.timeout
                response = try await http.execute(request, timeout: .nanoseconds(Int64(limit.components.seconds) * 1_000_000_000
                                                                                   + limit.components.attoseconds / 1_000_000_000))
                buffer = try await response.body.collect(upTo: 64 << 20)
            } catch {
                let text = "\(error)"
                // A member that took the request and then said nothing may have applied it:
                // trying another could apply it twice, so the caller hears of it instead.
                if text.contains("eadline") || text.contains("imeout") {
                    throw TetherError(.timeout, "etcd at \(endpoint) did not answer /v3/\(path) within \(timeout ?? self.timeout) "
                                      + "(a cluster without quorum holds every write)", cause: text)
                }
                unreachable.append("\(endpoint): \(text)")
                continue
            }
            current.withLock { $0 = index }
            let bytes = Data(buffer: buffer)
            guard response.status == .ok else {
                let failure = try? JSONDecoder().decode(EtcdWire.Failure.self, from: bytes)
                throw Self.error(failure, status: response.status.code, endpoint: endpoint, path: path)
            }
            do {
                return try JSONDecoder().decode(type, from: bytes)
            } catch {
                throw TetherError(.io, "etcd at \(endpoint) sent an answer to /v3/\(path) that cannot be read",
                                  cause: String(decoding: bytes.prefix(300), as: UTF8.self))
            }
        }
        throw TetherError(.io, "no etcd member answers (\(description))", cause: unreachable.joined(separator: "; "))
    }

    /// gRPC's codes as the gateway passes them: 14 unavailable and 4 deadline exceeded are the
    /// cluster's own trouble (no leader, no quorum), the rest a request etcd refused.
    static func error(_ failure: EtcdWire.Failure?, status: UInt, endpoint: HostPort, path: String) -> TetherError {
        let message = failure?.message ?? failure?.error ?? "HTTP \(status)"
        switch failure?.code {
        case 4: return TetherError(.timeout, "etcd at \(endpoint) could not complete /v3/\(path) in time (no quorum?)", cause: message)
        case 14: return TetherError(.io, "etcd at \(endpoint) is unavailable for /v3/\(path)", cause: message)
        case 5: return TetherError(.notFound, "etcd at \(endpoint): \(message)")
        case 3, 11: return TetherError(.invalidArgument, "etcd at \(endpoint) refused /v3/\(path)", cause: message)
        case 16, 7: return TetherError(.permissionDenied, "etcd at \(endpoint) refused /v3/\(path): not allowed", cause: message)
        default: return TetherError(.io, "etcd at \(endpoint) failed /v3/\(path)", cause: message)
        }
    }
}
