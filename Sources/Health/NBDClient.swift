import Foundation
import TetherModel

/// A minimal NBD client: one TCP connection to one export, one request at a time, every step
/// bounded by a deadline, so that a dead path is known within it and never hangs the caller (the
/// kernel would retransmit for minutes). Blocking: the health monitors call it from threads of
/// their own, never from Swift's shared pool.
///
/// After a timeout or a protocol error the connection's state is unknown (a late reply could
/// answer the next request), so the client is spent: every later call fails at once and the
/// owner connects anew.
public final class NBDClient {
    public let endpoint: NBDEndpoint
    /// The deadline of every request (and of connecting with the handshake).
    public let timeout: Duration
    /// The export's size in bytes, as the server announced it.
    public let exportSize: UInt64
    let flags: NBDProtocol.TransmissionFlags
    private let socket: Socket
    private var nextCookie: UInt64 = 1
    private var spent: TetherError?

    public static let defaultTimeout: Duration = .milliseconds(1500)

    /// Connects, negotiates (fixed newstyle, NBD_OPT_GO) and opens `endpoint.export`, all within
    /// `timeout`. `namespace`: the network namespace to connect from (nil: this process's).
    public init(_ endpoint: NBDEndpoint, timeout: Duration = NBDClient.defaultTimeout, namespace: String? = nil) throws(TetherError) {
        self.endpoint = endpoint
        self.timeout = timeout
        let deadline = ContinuousClock.now + timeout
        socket = try Socket.open(domain: AF_INET, type: Int32(SOCK_STREAM.rawValue), protocol: 0, namespace: namespace)
        var one: Int32 = 1
        setsockopt(socket.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // Unacknowledged data fails the connection after the deadline instead of after ~15
        // minutes of retransmissions: a socket left behind never lingers on a dead path.
        var unacknowledged = UInt32(clamping: timeout.milliseconds)
        setsockopt(socket.fd, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT, &unacknowledged, socklen_t(MemoryLayout<UInt32>.size))
        try socket.connect(host: endpoint.host, port: endpoint.port, deadline: deadline)
        (exportSize, flags) = try Self.handshake(socket, export: endpoint.export, deadline: deadline,
                                                 what: "NBD handshake with \(endpoint)")
    }

    deinit { socket.close() }

    /// Whether the server accepts writes with FUA (force unit access): a write acknowledged with
    /// it is on stable storage, no flush needed.
    public var supportsFUA: Bool { flags.contains(.sendFUA) }
    public var isReadOnly: Bool { flags.contains(.readOnly) }

    /// Reads `length` bytes at `offset`. Every request ends by `deadline` (default: now plus
    /// `timeout`).
    public func read(at offset: UInt64, length: UInt32, deadline: ContinuousClock.Instant? = nil) throws(TetherError) -> [UInt8] {
        try perform(.read, offset: offset, length: length, payload: [], replyLength: Int(length), deadline: deadline)
    }

    /// Writes `bytes` at `offset`; with `fua` the server acknowledges only once they are on
    /// stable storage (where the server does not offer FUA, a flush follows the write).
    public func write(_ bytes: [UInt8], at offset: UInt64, fua: Bool = false,
                      deadline: ContinuousClock.Instant? = nil) throws(TetherError) {
        let useFlag = fua && supportsFUA
        _ = try perform(.write, flags: useFlag ? NBDProtocol.commandFlagFUA : 0, offset: offset, length: UInt32(bytes.count),
                        payload: bytes, replyLength: 0, deadline: deadline)
        if fua && !useFlag { try flush(deadline: deadline) }
    }

    public func flush(deadline: ContinuousClock.Instant? = nil) throws(TetherError) {
        _ = try perform(.flush, offset: 0, length: 0, payload: [], replyLength: 0, deadline: deadline)
    }

    /// Tells the server we leave (it sends no reply) and closes the connection.
    public func disconnect() {
        if spent == nil {
            let request = NBDProtocol.request(.disconnect, cookie: nextCookie, offset: 0, length: 0)
            try? socket.send(request, until: ContinuousClock.now + timeout, doing: "NBD disconnect")
        }
        spent = TetherError(.io, "the NBD connection to \(endpoint) was closed")
        socket.close()
    }

    private func perform(_ command: NBDProtocol.Command, flags: UInt16 = 0, offset: UInt64, length: UInt32, payload: [UInt8],
                         replyLength: Int, deadline: ContinuousClock.Instant?) throws(TetherError) -> [UInt8] {
        if let spent { throw spent }
        let deadline = deadline ?? ContinuousClock.now + timeout
        let cookie = nextCookie
        nextCookie += 1
        let what = "NBD \(command) of \(length) bytes at \(offset) on \(endpoint)"
        do {
            try socket.send(NBDProtocol.request(command, flags: flags, cookie: cookie, offset: offset, length: length) + payload,
                            until: deadline, doing: what)
            let reply = try NBDProtocol.parseSimpleReply(try socket.receive(exactly: 16, until: deadline, doing: what))
            guard reply.cookie == cookie else {
                throw NBDProtocol.violation("\(what): the reply is for request \(reply.cookie), not \(cookie)")
            }
            guard reply.error == 0 else {
                // The server failed the request but the connection stays in step: not spent.
                let cause = String(cString: strerror(Int32(bitPattern: reply.error)))
                throw Failed(error: TetherError(.io, "\(what): the server failed it", cause: "NBD error \(reply.error): \(cause)"))
            }
            return replyLength > 0 ? try socket.receive(exactly: replyLength, until: deadline, doing: what) : []
        } catch let failed as Failed {
            throw failed.error
        } catch let error as TetherError {
            spent = error
            socket.close()
            throw error
        } catch {
            throw TetherError(.internalError, "\(what): \(error)")
        }
    }

    private struct Failed: Error { var error: TetherError }

    private static func handshake(_ socket: Socket, export: String, deadline: ContinuousClock.Instant,
                                  what: String) throws(TetherError) -> (UInt64, NBDProtocol.TransmissionFlags) {
        let serverFlags = try NBDProtocol.parseGreeting(try socket.receive(exactly: 18, until: deadline, doing: what))
        var clientFlags = UInt32(NBDProtocol.flagFixedNewstyle)
        if serverFlags & NBDProtocol.flagNoZeroes != 0 { clientFlags |= UInt32(NBDProtocol.flagNoZeroes) }
        var writer = ByteWriter()
        writer.u32(clientFlags)
        writer.append(NBDProtocol.goOption(export: export))
        try socket.send(writer.bytes, until: deadline, doing: what)
        var export_: (UInt64, NBDProtocol.TransmissionFlags)?
        // Replies until the ACK (or an error); a bounded number, so a server that loops on
        // infos cannot hold us (the deadline would anyway).
        for _ in 0..<64 {
            let header = try NBDProtocol.parseOptionReplyHeader(try socket.receive(exactly: 20, until: deadline, doing: what))
            guard header.option == NBDProtocol.optionGo else {
                throw NBDProtocol.violation("\(what): a reply to option \(header.option), not to NBD_OPT_GO")
            }
            guard header.length <= 64 * 1024 else { throw NBDProtocol.violation("\(what): an option reply of \(header.length) bytes") }
            let body = header.length > 0 ? try socket.receive(exactly: Int(header.length), until: deadline, doing: what) : []
            switch header.type {
            case NBDProtocol.replyAck:
                guard let export_ else { throw NBDProtocol.violation("\(what): the server acknowledged without the export's size") }
                return export_
            case NBDProtocol.replyInfo:
                if let info = NBDProtocol.parseExportInfo(body) { export_ = info }
            case let type where type & NBDProtocol.replyErrorBit != 0:
                throw NBDProtocol.optionErrorMessage(type, export: export)
            default:
                throw NBDProtocol.violation("\(what): unexpected option reply type \(header.type)")
            }
        }
        throw NBDProtocol.violation("\(what): too many option replies")
    }
}
