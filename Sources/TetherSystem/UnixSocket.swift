import Foundation
import TetherModel

/// A unix socket's address and bind, for the agent's notification socket and the relays'
/// private channel ends alike.
public enum UnixSocket {
    /// `path` as a `sockaddr_un`; a path longer than the address holds is refused by name.
    public static func address(_ path: String) throws(TetherError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let limit = MemoryLayout.size(ofValue: address.sun_path) - 1
        guard bytes.count <= limit else {
            throw TetherError(.invalidArgument, "the socket path '\(path)' is longer than the \(limit) bytes a unix socket allows")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }

    /// A new socket of `type` (close-on-exec) bound at `path`; the file must not exist.
    public static func bind(_ path: String, type: Int32) throws(TetherError) -> Int32 {
        var address = try address(path)
        let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TetherError(.io, "cannot create a unix socket", cause: String(cString: strerror(errno))) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let cause = String(cString: strerror(errno))
            close(fd)
            throw TetherError(.io, "cannot bind the socket '\(path)'", cause: cause)
        }
        return fd
    }
}
