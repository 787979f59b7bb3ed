import Foundation
import TetherModel

/// The failure detector's UDP socket on one network: bound to this host's address on it, sending
/// to peers' addresses there. Datagrams, not a stream: a probe that is lost is what the detector
/// measures, and nothing queues behind a dead peer. Non-blocking; the owner polls `fd`.
public final class MembershipTransport {
    /// memberlist's port, as a default every host shares.
    public static let defaultPort = 7946
    /// Larger than any datagram the detector makes (a few hundred bytes); a larger one is cut,
    /// then rejected by the codec.
    static let maximumDatagram = 2048

    public let local: HostPort
    private let socket: Socket

    /// Binds to `local` (in `namespace` when given).
    public init(local: HostPort, namespace: String? = nil) throws(TetherError) {
        self.local = local
        socket = try Socket.open(domain: AF_INET, type: Int32(SOCK_DGRAM.rawValue), protocol: 0, namespace: namespace)
        guard let port = UInt16(exactly: local.port) else { throw TetherError(.invalidArgument, "port \(local.port) is out of range") }
        var address = try Socket.ipv4(local.host, port: port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw Socket.error(.io, "cannot bind the membership socket to \(local)") }
    }

    var fd: Int32 { socket.fd }

    /// Sends one datagram; false when the kernel refused it (no route while a link is down, a
    /// full buffer): the detector treats it as lost, as it would be on the wire.
    @discardableResult
    public func send(_ bytes: [UInt8], to peer: HostPort) -> Bool {
        guard let port = UInt16(exactly: peer.port), var address = try? Socket.ipv4(peer.host, port: port) else { return false }
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes {
                    sendto(socket.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), target, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        return sent == bytes.count
    }

    /// The next datagram waiting, with its source; nil when none is.
    public func receive() -> (bytes: [UInt8], from: HostPort)? {
        var buffer = [UInt8](repeating: 0, count: Self.maximumDatagram)
        var source = sockaddr_in()
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &source) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { from in
                buffer.withUnsafeMutableBytes { recvfrom(socket.fd, $0.baseAddress, $0.count, 0, from, &size) }
            }
        }
        guard n >= 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &source.sin_addr, &text, socklen_t(INET_ADDRSTRLEN))
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (Array(buffer.prefix(n)), HostPort(host: host, port: Int(UInt16(bigEndian: source.sin_port))))
    }

    /// Waits up to `timeout` for a datagram to arrive.
    func waitForDatagram(_ timeout: Duration) -> Bool {
        var entry = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(clamping: max(0, timeout.milliseconds))) > 0
    }
}
