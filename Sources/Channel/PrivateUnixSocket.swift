import Foundation
import TetherModel
import TetherSystem

/// Where a relay end listens.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// A TCP address: the serve end's, on the network (port 0: any free port).
    case tcp(host: String, port: Int)
    /// A unix socket that only this uid can open: the connect end's, for the VM's QEMU. A TCP
    /// port on the loopback would let any local user reach the remote device through the
    /// relay's certificate; a file's permissions are the one check the kernel makes for us.
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// The socket file a relay bound, and the checks around it: its directory is private to this
/// uid before the bind (so there is no moment when the socket exists and others may reach it),
/// the socket itself is mode 0600, and only this very file is removed when the relay stops.
struct PrivateUnixSocket: Sendable {
    let path: String
    private let device: UInt64
    private let inode: UInt64

    /// The modes the relay leaves: the directory is searchable by its owner only, the socket
    /// (connect needs write permission) is readable and writable by its owner only.
    static let directoryMode: mode_t = 0o700
    static let socketMode: mode_t = 0o600

    /// Makes `path`'s directory (mode 0700) if it is missing, or checks that the one there is a
    /// real directory of this uid's that nobody else can enter. A shared directory such as /tmp
    /// is refused rather than tightened: changing its mode would break everyone else in it.
    static func prepareDirectory(for path: String) throws {
        guard path.hasPrefix("/") else {
            throw TetherError(.invalidArgument, "the socket path '\(path)' must be absolute")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let parent = (directory as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw TetherError(.io, "cannot create '\(parent)' for the socket '\(path)'", cause: "\(error)")
        }
        if mkdir(directory, directoryMode) != 0 && errno != EEXIST {
            throw TetherError(.io, "cannot create the directory '\(directory)' for the socket '\(path)'",
                              cause: String(cString: strerror(errno)))
        }
        // Checked and tightened through one descriptor: a name swapped for a symbolic link
        // between the check and the chmod would otherwise redirect it.
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw TetherError(.invalidArgument, "'\(directory)' is not a directory (a symbolic link is refused)",
                              cause: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw TetherError(.io, "cannot inspect '\(directory)'", cause: String(cString: strerror(errno)))
        }
        guard info.st_uid == geteuid() else {
            throw TetherError(.permissionDenied, "'\(directory)' belongs to uid \(info.st_uid), not to this process's uid \(geteuid()); "
                              + "give the socket a directory of its own")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw TetherError(.permissionDenied, "'\(directory)' has mode \(String(info.st_mode & 0o7777, radix: 8)): other users "
                              + "could reach the socket; give the socket a directory of its own (mode 700)")
        }
        // A umask can have left the owner without search or write permission (the bind needs both).
        guard fchmod(fd, directoryMode) == 0 else {
            throw TetherError(.io, "cannot set mode 700 on '\(directory)'", cause: String(cString: strerror(errno)))
        }
    }

    private init(path: String, device: UInt64, inode: UInt64) {
        self.path = path
        self.device = device
        self.inode = inode
    }

    /// Binds a stream socket at `path` (in a directory `prepareDirectory` made private) and
    /// restricts it to its owner; the caller listens on the descriptor. A socket file already
    /// there (a killed relay's) is replaced; any other file is refused, never deleted.
    ///
    /// Bound here rather than by NIO's `bind(unixDomainSocketPath:)`: NIO unlinks whatever socket
    /// is at the path when the listener closes, which would take a newer relay's socket away.
    static func bind(at path: String) throws -> (descriptor: CInt, file: PrivateUnixSocket) {
        _ = try UnixSocket.address(path)   // a path too long is refused before anything is touched
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw TetherError(.invalidArgument, "'\(path)' exists and is not a socket; it is left alone, give another path")
            }
            unlink(path)
        }
        let fd = try UnixSocket.bind(path, type: Int32(SOCK_STREAM.rawValue))
        guard chmod(path, socketMode) == 0, lstat(path, &info) == 0 else {
            let cause = String(cString: strerror(errno))
            close(fd)
            unlink(path)
            throw TetherError(.io, "cannot set mode 600 on the socket '\(path)'", cause: cause)
        }
        return (fd, PrivateUnixSocket(path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }

    /// Removes the socket file, unless it is no longer the one this relay bound: a relay started
    /// on the same path since (the channel set up again) keeps its socket.
    func remove() {
        var info = stat()
        guard lstat(path, &info) == 0, UInt64(info.st_dev) == device, UInt64(info.st_ino) == inode else { return }
        unlink(path)
    }
}

extension ListenAddress {
    var isUnix: Bool {
        if case .unix = self { return true }
        return false
    }
}
