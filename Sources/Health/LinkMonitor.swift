import Foundation
import TetherModel

/// A link's state changed (or it appeared, or went away), at `time`.
public struct LinkChange: Sendable, Equatable {
    public var link: LinkState
    public var removed: Bool
    public var time: Date
}

/// The kernel's view of this host's links, from rtnetlink: a dump at start, then the kernel's
/// own notifications (RTMGRP_LINK), so a link set down or a lost carrier is known within
/// milliseconds, without polling. Works inside a network namespace: it sees that namespace's
/// links (the process's own, or `namespace`'s).
///
/// `run()` owns a thread while it runs; `links` is the current table and `changes` every change
/// of a link's name, admin state, carrier or operational state (single consumer; the newest 256
/// are kept if nobody reads).
public final class LinkMonitor: Sendable {
    public let changes: AsyncStream<LinkChange>
    private let continuation: AsyncStream<LinkChange>.Continuation
    private let namespace: String?
    private let table = Table()

    public init(namespace: String? = nil) {
        self.namespace = namespace
        (changes, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    /// Every link by name (empty until `run` has read the first dump).
    public var links: [String: LinkState] { table.withLock { $0.links } }
    public func link(named name: String) -> LinkState? { table.withLock { $0.links[name] } }
    /// Whether the first dump has been read.
    public var isReady: Bool { table.withLock { $0.ready } }

    /// Follows the kernel until the calling task is cancelled; then finishes `changes`. Throws
    /// when the netlink socket cannot be made.
    public func run() async throws(TetherError) {
        let socket = try Self.subscribedSocket(namespace: namespace)
        let sock = SendableSocket(socket)
        await LoopThread.run("links") { loop in self.follow(sock.socket, loop) }
        continuation.finish()
    }

    /// The interface that carries IPv4 `address` (nil: none does), from one dump of addresses
    /// and links: how the agent finds "the link of my migration address".
    public static func interface(carrying address: String, namespace: String? = nil,
                                 timeout: Duration = .seconds(1)) throws(TetherError) -> LinkState? {
        let socket = try openSocket(groups: 0, namespace: namespace)
        let deadline = ContinuousClock.now + timeout
        let addresses = try dump(NetlinkMessage.getAddress, on: socket, until: deadline).compactMap { message -> InterfaceAddress? in
            if case .address(let found, false) = message { return found }
            return nil
        }
        guard let match = addresses.first(where: { $0.address == address }) else { return nil }
        for message in try dump(NetlinkMessage.getLink, on: socket, until: deadline) {
            if case .link(let link, false) = message, link.index == match.index { return link }
        }
        return nil
    }

    private func follow(_ socket: Socket, _ loop: LoopThread) {
        var needsDump = true
        while !loop.isStopping {
            if needsDump {
                needsDump = false
                let request = NetlinkMessage.dumpRequest(NetlinkMessage.getLink, sequence: 1)
                _ = request.withUnsafeBytes { Glibc.send(socket.fd, $0.baseAddress, $0.count, 0) }
            }
            var entry = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            while true {
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                let n = buffer.withUnsafeMutableBytes { Glibc.recv(socket.fd, $0.baseAddress, $0.count, 0) }
                if n < 0 {
                    // ENOBUFS: the kernel dropped notifications; only a fresh dump is the truth.
                    if errno == ENOBUFS { needsDump = true }
                    break
                }
                guard let messages = try? NetlinkMessage.parse(Array(buffer.prefix(n))) else { continue }
                for message in messages { apply(message) }
            }
        }
    }

    private func apply(_ message: NetlinkMessage) {
        let now = Date()
        switch message {
        case .link(let link, let removed):
            let changed = table.withLock { table -> Bool in
                let before = table.links[link.name]
                if removed { table.links[link.name] = nil } else {
                    // A renamed link: its old name goes.
                    if let old = table.links.first(where: { $0.value.index == link.index && $0.key != link.name })?.key {
                        table.links[old] = nil
                    }
                    table.links[link.name] = link
                }
                return removed ? before != nil : before != link
            }
            if changed { continuation.yield(LinkChange(link: link, removed: removed, time: now)) }
        case .done:
            table.withLock { $0.ready = true }
        case .overrun:
            break
        default:
            break
        }
    }

    static func subscribedSocket(namespace: String?) throws(TetherError) -> Socket {
        try openSocket(groups: NetlinkMessage.groupLink, namespace: namespace)
    }

    private static func openSocket(groups: UInt32, namespace: String?) throws(TetherError) -> Socket {
        // Protocol 0: NETLINK_ROUTE.
        let socket = try Socket.open(domain: AF_NETLINK, type: Int32(SOCK_RAW.rawValue), protocol: 0, namespace: namespace)
        // struct sockaddr_nl (not imported into Swift): family, pad, port id (0: the kernel
        // picks), multicast groups; in host order, little-endian on the x86 and ARM hosts we run on.
        var address = ByteWriter()
        address.u16(UInt16(AF_NETLINK), bigEndian: false)
        address.u16(0, bigEndian: false)
        address.u32(0, bigEndian: false)
        address.u32(groups, bigEndian: false)
        let rc = address.bytes.withUnsafeBytes { raw in
            bind(socket.fd, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        guard rc == 0 else { throw Socket.error(.io, "cannot bind a netlink socket") }
        var size: Int32 = 1 << 20
        setsockopt(socket.fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    /// One dump: the request, then messages until NLMSG_DONE.
    private static func dump(_ type: UInt16, on socket: Socket,
                             until deadline: ContinuousClock.Instant) throws(TetherError) -> [NetlinkMessage] {
        let request = NetlinkMessage.dumpRequest(type, sequence: UInt32(type))
        guard request.withUnsafeBytes({ Glibc.send(socket.fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw Socket.error(.io, "cannot send a netlink dump request")
        }
        var messages: [NetlinkMessage] = []
        while true {
            try socket.wait(for: Int16(POLLIN), until: deadline, doing: "netlink dump")
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(socket.fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw Socket.error(.io, "netlink dump failed")
            }
            let parsed: [NetlinkMessage]
            do { parsed = try NetlinkMessage.parse(Array(buffer.prefix(n))) } catch {
                throw TetherError(.io, "the kernel sent a malformed netlink message", cause: error.description)
            }
            for message in parsed {
                switch message {
                case .done: return messages
                case .error(let code) where code != 0:
                    throw TetherError(.io, "netlink dump refused", cause: String(cString: strerror(code)))
                default: messages.append(message)
                }
            }
        }
    }

    private final class Table: @unchecked Sendable {
        struct Value {
            var links: [String: LinkState] = [:]
            var ready = false
        }

        private let lock = NSLock()
        private var value = Value()
        func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
    }
}

/// A socket handed to the loop's thread, which alone uses it from then on.
struct SendableSocket: @unchecked Sendable {
    let socket: Socket
    init(_ socket: Socket) { self.socket = socket }
}
