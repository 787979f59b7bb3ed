import Foundation
import TetherModel

/// One socket descriptor with a deadline on every operation: the health probes must learn that a
/// path is dead within their timeout, and a blocking call on a dead TCP path waits for minutes
/// (the kernel retransmits for about 15). So the descriptor is non-blocking and every wait is a
/// `poll` bounded by the caller's deadline.
final class Socket {
    let fd: Int32
    private var closed = false

    init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    /// A new non-blocking, close-on-exec socket, made in network namespace `namespace` (a name
    /// under /var/run/netns) when given: a socket stays in the namespace it was made in.
    static func open(domain: Int32, type: Int32, protocol: Int32, namespace: String? = nil) throws(TetherError) -> Socket {
        let kind = type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd: Int32
        if let namespace {
            fd = try NetworkNamespace.inside(namespace) { Glibc.socket(domain, kind, `protocol`) }
        } else {
            fd = Glibc.socket(domain, kind, `protocol`)
        }
        guard fd >= 0 else { throw Socket.error(.io, "cannot make a socket") }
        return Socket(fd: fd)
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
    }

    /// TCP connect to an IPv4 `host:port` (a name is resolved first), done by `deadline`.
    func connect(host: String, port: UInt16, deadline: ContinuousClock.Instant) throws(TetherError) {
        var address = try Socket.ipv4(host, port: port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc == 0 { return }
        guard errno == EINPROGRESS else { throw Socket.connectError(host: host, port: port, errno: errno) }
        try wait(for: Int16(POLLOUT), until: deadline, doing: "connect to \(host):\(port)")
        var failure: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size)
        guard failure == 0 else { throw Socket.connectError(host: host, port: port, errno: failure) }
    }

    /// Sends every byte by `deadline`.
    func send(_ bytes: [UInt8], until deadline: ContinuousClock.Instant, doing what: String) throws(TetherError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress.map { $0 + sent }, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0, errno == EAGAIN || errno == EINTR {
                try wait(for: Int16(POLLOUT), until: deadline, doing: what)
            } else {
                throw Socket.error(.io, "\(what): the connection failed")
            }
        }
    }

    /// Receives exactly `count` bytes by `deadline`; the peer closing before is a short reply.
    func receive(exactly count: Int, until deadline: ContinuousClock.Instant, doing what: String) throws(TetherError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var received = 0
        while received < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress.map { $0 + received }, count - received, 0) }
            if n > 0 {
                received += n
            } else if n == 0 {
                throw TetherError(.io, "\(what): short reply, the server closed the connection after \(received) of \(count) bytes")
            } else if errno == EAGAIN || errno == EINTR {
                try wait(for: Int16(POLLIN), until: deadline, doing: what)
            } else {
                throw Socket.error(.io, "\(what): the connection failed")
            }
        }
        return buffer
    }

    /// Waits until the descriptor is ready for `events`, or throws a timeout at `deadline`.
    func wait(for events: Int16, until deadline: ContinuousClock.Instant, doing what: String) throws(TetherError) {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw TetherError(.timeout, "\(what): no answer within the deadline") }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&entry, 1, Int32(clamping: left.milliseconds + 1))
            if rc > 0 { return }
            if rc < 0, errno != EINTR { throw Socket.error(.io, "\(what): poll failed") }
        }
    }

    static func ipv4(_ host: String, port: UInt16) throws(TetherError) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        if inet_pton(AF_INET, host, &address.sin_addr) == 1 { return address }
        // A name: resolved once here (the lab and the spec use addresses; a name is a convenience).
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result, let found = first.pointee.ai_addr else {
            throw TetherError(.invalidArgument, "'\(host)' is not an IPv4 address or a name that resolves to one")
        }
        defer { freeaddrinfo(result) }
        found.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address.sin_addr = $0.pointee.sin_addr }
        return address
    }

    static func connectError(host: String, port: UInt16, errno code: Int32) -> TetherError {
        let cause = String(cString: strerror(code))
        switch code {
        case ECONNREFUSED: return TetherError(.io, "\(host):\(port) refused the connection: is the server running?", cause: cause)
        case ETIMEDOUT: return TetherError(.timeout, "connect to \(host):\(port) timed out", cause: cause)
        default: return TetherError(.io, "cannot connect to \(host):\(port)", cause: cause)
        }
    }

    static func error(_ code: TetherError.Code, _ message: String) -> TetherError {
        TetherError(code, message, cause: String(cString: strerror(errno)))
    }
}

extension Duration {
    /// Whole milliseconds, rounded down (poll's unit).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
