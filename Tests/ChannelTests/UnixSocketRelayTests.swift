import Channel
import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// The connect end on a unix socket private to its uid: QEMU (the agent's uid, root in practice)
/// gets through to the serve end; another local user is refused by the kernel before the relay
/// sees a connection. On the loopback TCP port this replaces, that user got through.
struct UnixSocketRelayTests {
    typealias PKI = RelayTests.PKI
    typealias Log = RelayTests.Log

    static let outsiderAvailable = LocalOutsider.available
    static let outsiderMissing = LocalOutsider.missing

    static func outsider(_ target: String) async throws -> ProcessResult { try await LocalOutsider.connect(target) }

    func serveEnd(_ pki: PKI, target: StreamServer, log: Log) async throws -> ChannelRelay {
        try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: target.port,
                                     identity: TLSIdentity(directory: pki.dir, name: "dev-host"), allow: ["vm-host"], log: log.sink)
    }

    func connectEnd(_ pki: PKI, on listen: ListenAddress, to serve: ChannelRelay, log: Log) async throws -> ChannelRelay {
        try await ChannelRelay.start(.connect, listen: listen, targetHost: "127.0.0.1", targetPort: serve.port,
                                     identity: TLSIdentity(directory: pki.dir, name: "vm-host"), allow: ["dev-host"], log: log.sink)
    }

    /// Mode bits and file type of `path` (not following a symbolic link).
    func status(_ path: String) throws -> stat {
        var info = stat()
        try #require(lstat(path, &info) == 0, "cannot stat \(path): \(String(cString: strerror(errno)))")
        return info
    }

    /// `size` bytes each way between a client on `path` and the target, intact.
    func bytesCross(_ path: String, _ target: StreamServer, size: Int, seed: UInt8) throws {
        let fd = try #require(StreamPeer.connect(unixPath: path), "connect: \(String(cString: strerror(errno)))")
        let mine = try #require(StreamPeer(socket: fd, sendBytes: size, seed: seed).wait(timeout: 120), "the stream did not finish")
        let theirs = try #require(target.accepted.last?.wait(timeout: 60))
        #expect(theirs.receivedDigest == mine.sentDigest, "VM to device intact (\(theirs.receivedBytes) of \(size))")
        #expect(mine.receivedDigest == theirs.sentDigest, "device to VM intact (\(mine.receivedBytes) of \(size))")
    }

    @Test(.requires(outsiderAvailable, outsiderMissing))
    func anotherLocalUserIsRefusedAndThisUserGetsThrough() async throws {
        let pki = try PKI()
        let log = Log()
        let size = 4 << 20
        let target = try StreamServer(sendBytes: size, seed: 2)
        let base = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = "\(base)/relay/vm-1.sock"
        let serve = try await serveEnd(pki, target: target, log: log)
        let connect = try await connectEnd(pki, on: .unix(path: path), to: serve, log: log)
        #expect(connect.socketPath == path)
        #expect(connect.listenAddress == .unix(path: path))

        let directory = try status("\(base)/relay"), socket = try status(path)
        #expect(directory.st_mode & S_IFMT == S_IFDIR)
        #expect(directory.st_mode & 0o7777 == 0o700, "mode \(String(directory.st_mode & 0o7777, radix: 8))")
        #expect(socket.st_mode & S_IFMT == S_IFSOCK)
        #expect(socket.st_mode & 0o7777 == 0o600, "mode \(String(socket.st_mode & 0o7777, radix: 8))")
        #expect(directory.st_uid == geteuid() && socket.st_uid == geteuid())

        let outsider = try await Self.outsider("unix:\(path)")
        #expect(outsider.status == 3, "\(outsider)")
        #expect(outsider.stdout.contains("Permission denied"), "\(outsider)")
        try await Task.sleep(for: .milliseconds(300))
        #expect(target.accepted.isEmpty, "the device side was never reached")
        #expect(serve.meter.total(.toDevice) == 0)
        #expect(!log.all.contains { $0.contains("carrying") || $0.contains("admitted") }, "\(log.all)")

        // The same socket, opened by this uid (QEMU's): bytes cross through the TLS channel.
        try bytesCross(path, target, size: size, seed: 1)
        #expect(serve.meter.total(.toDevice) == size)
        #expect(log.waitFor("carrying unix:\(path)"), "\(log.all)")
        await serve.stop()
        await connect.stop()
    }

    /// Why the connect end moved off TCP: on the loopback port any local user's connection is
    /// carried over the relay's certificate to the device.
    @Test(.requires(outsiderAvailable, outsiderMissing))
    func onALoopbackTCPPortAnyLocalUserReachesTheDevice() async throws {
        let pki = try PKI()
        let log = Log()
        let target = try StreamServer(sendBytes: 1 << 16, seed: 2)
        let serve = try await serveEnd(pki, target: target, log: log)
        let connect = try await connectEnd(pki, on: .tcp(host: "127.0.0.1", port: 0), to: serve, log: log)
        let outsider = try await Self.outsider("tcp:\(connect.port)")
        #expect(outsider.stdout.contains("connected"), "\(outsider)")
        for _ in 0..<500 where target.accepted.isEmpty { usleep(10_000) }
        #expect(target.accepted.count == 1, "uid 65534 reached the device side")
        await serve.stop()
        await connect.stop()
    }

    /// A relay killed without stopping leaves its socket file; the next one on that path takes
    /// it over. Stopping removes the file, but not one a newer relay has bound there since.
    @Test func aStaleSocketFileIsReplacedAndStopRemovesOnlyItsOwn() async throws {
        let pki = try PKI()
        let log = Log()
        let target = try StreamServer(sendBytes: 1 << 16, seed: 2)
        let base = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let path = "\(base)/relay/vm-1.sock"
        try #require(mkdir("\(base)/relay", 0o700) == 0)
        try leaveStaleSocket(at: path)
        #expect(StreamPeer.connect(unixPath: path) == nil && errno == ECONNREFUSED, "a stale socket: nobody listens")

        let serve = try await serveEnd(pki, target: target, log: log)
        let first = try await connectEnd(pki, on: .unix(path: path), to: serve, log: log)
        try bytesCross(path, target, size: 1 << 16, seed: 1)
        let second = try await connectEnd(pki, on: .unix(path: path), to: serve, log: log)
        await first.stop()
        #expect(FileManager.default.fileExists(atPath: path), "the first relay left the second's socket alone")
        try bytesCross(path, target, size: 1 << 16, seed: 3)
        await second.stop()
        #expect(!FileManager.default.fileExists(atPath: path), "stop removed the socket file")
        await serve.stop()
    }

    /// Binds a unix socket at `path` and closes it without unlinking: what a killed relay leaves.
    func leaveStaleSocket(at path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(ok == 0, "bind: \(String(cString: strerror(errno)))")
        try #require(try status(path).st_mode & S_IFMT == S_IFSOCK)
    }

    enum UnsafePlace: String, CaseIterable, Sendable {
        case sharedDirectory, otherUsersDirectory, symbolicLink, regularFile
    }

    /// Where the socket would not be private, or a file would be lost, the relay refuses to
    /// listen and leaves everything as it was.
    @Test(.requires(getuid() == 0, "needs root to give a directory to another user"), arguments: UnsafePlace.allCases)
    func aPlaceThatIsNotPrivateIsRefused(_ place: UnsafePlace) async throws {
        let pki = try PKI()
        let log = Log()
        let target = try StreamServer(sendBytes: 1 << 16, seed: 2)
        let base = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let directory = "\(base)/relay", path = "\(base)/relay/vm-1.sock"
        let says: String
        switch place {
        case .sharedDirectory:
            try #require(mkdir(directory, 0o700) == 0 && chmod(directory, 0o1777) == 0)
            says = "has mode 1777"
        case .otherUsersDirectory:
            try #require(mkdir(directory, 0o700) == 0 && chown(directory, 65534, 65534) == 0)
            says = "belongs to uid 65534"
        case .symbolicLink:
            try #require(mkdir("\(base)/elsewhere", 0o700) == 0 && symlink("\(base)/elsewhere", directory) == 0)
            says = "is not a directory"
        case .regularFile:
            try #require(mkdir(directory, 0o700) == 0)
            try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
            says = "exists and is not a socket"
        }
        let serve = try await serveEnd(pki, target: target, log: log)
        await #expect {
            _ = try await connectEnd(pki, on: .unix(path: path), to: serve, log: log)
        } throws: { error in
            "\(error)".contains(says)
        }
        if place == .regularFile {
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me", "a file that is not a socket is never deleted")
        } else {
            #expect(!FileManager.default.fileExists(atPath: path))
        }
        await serve.stop()
    }
}
