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
        guard var address = address(path) else { return false }
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
        let fd = Foundation.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, var address = address(path) else { throw TetherError(.io, "cannot make a socket for \(path)") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TetherError(.io, "cannot listen on \(path)", cause: reason)
        }
        chmod(path, 0o660)
        return fd
    }

    private static func address(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        return address
    }
}
