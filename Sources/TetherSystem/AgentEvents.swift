import Foundation
import TetherModel

/// The agent's udev notification socket: a unix datagram socket on which each datagram means
/// "a USB device came or went; look again". Datagrams, so that the sender (a udev rule's RUN,
/// which must never block udev) neither connects nor waits: one sendto, done.
public enum AgentEvents {
    public static let defaultSocket = "/run/tether/agent-events.sock"

    /// Sends `message` without blocking; false when nobody listens (no agent: nothing to tell).
    @discardableResult
    public static func notify(_ message: String, socket path: String = defaultSocket) -> Bool {
        let fd = Foundation.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard var address = try? UnixSocket.address(path) else { return false }
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                message.withCString { sendto(fd, $0, strlen($0), Int32(MSG_NOSIGNAL), target, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        return sent >= 0
    }

    /// Binds the datagram socket at `path` (a stale one from a dead agent is replaced).
    public static func bind(_ path: String) throws(TetherError) -> Int32 {
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(path)
        let fd = try UnixSocket.bind(path, type: Int32(SOCK_DGRAM.rawValue))
        chmod(path, 0o660)
        return fd
    }
}
