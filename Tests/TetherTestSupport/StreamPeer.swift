import Crypto
import Foundation
import Synchronization
import TetherModel
import USBRedirReplay

/// One end of a TCP byte stream for relay tests: sends `sendBytes` of a deterministic pattern
/// (then half-closes), while reading everything the other end sends and hashing it. Plain
/// blocking sockets on their own threads, so the relay under test is the only NIO in play.
public final class StreamPeer: @unchecked Sendable {
    public struct Outcome: Sendable {
        public var receivedBytes: Int
        public var receivedDigest: String
        public var sentDigest: String
        public var sendError: Int32
    }

    private let lock = NSLock()
    private var outcome: Outcome?
    private let done = DispatchSemaphore(value: 0)

    /// The digest of `bytes` bytes of the pattern `seed` makes, as the peer sends it.
    public static func digest(bytes: Int, seed: UInt8) -> String {
        digest(bytes: bytes, block: block(seed))
    }

    /// The digest of `data`, as a peer reports what it received.
    public static func digest(of data: [UInt8]) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func digest(bytes: Int, block: [UInt8]) -> String {
        var hash = SHA256()
        var left = bytes
        while left > 0 {
            let n = min(left, block.count)
            hash.update(data: block[0..<n])
            left -= n
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A 1 MiB block of seeded noise, repeated: TLS does not compress, so this costs what any
    /// payload costs. Made once per seed: a peer whose block is made sends at once after
    /// connecting, as a test of what arrives before a relay is ready needs (`digest` makes it).
    static func block(_ seed: UInt8) -> [UInt8] {
        if let block = blocks.withLock({ $0[seed] }) { return block }
        var generator = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9)
        let block = (0..<(1 << 17)).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
        blocks.withLock { $0[seed] = block }
        return block
    }

    private static let blocks = Mutex<[UInt8: [UInt8]]>([:])

    private var sendErrno: Int32 = 0
    private let senderDone = DispatchSemaphore(value: 0)

    /// Runs the peer on an already connected socket.
    public init(socket fd: Int32, sendBytes: Int, seed: UInt8, stopSendingAfter: Int? = nil) {
        let block = Self.block(seed)
        let sentDigest = Self.digest(bytes: sendBytes, block: block)
        Thread.detachNewThread { [self] in
            defer { senderDone.signal() }
            var left = min(sendBytes, stopSendingAfter ?? sendBytes)
            while left > 0 {
                let n = min(left, block.count)
                var offset = 0
                while offset < n {
                    let w = block.withUnsafeBytes { send(fd, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL)) }
                    if w <= 0 {
                        let code = errno
                        lock.withLock { sendErrno = code }
                        return
                    }
                    offset += w
                }
                left -= n
            }
            // A peer that vanishes closes outright; a normal one half-closes and keeps reading.
            if stopSendingAfter == nil { shutdown(fd, Int32(SHUT_WR)) } else { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        Thread.detachNewThread { [self] in
            var hash = SHA256()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var total = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                hash.update(data: buffer[0..<n])
                total += n
            }
            senderDone.wait()
            let digest = hash.finalize().map { String(format: "%02x", $0) }.joined()
            lock.withLock {
                outcome = Outcome(receivedBytes: total, receivedDigest: digest, sentDigest: sentDigest, sendError: sendErrno)
            }
            close(fd)
            done.signal()
        }
    }

    /// Waits for the stream to end both ways.
    public func wait(timeout: TimeInterval) -> Outcome? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { outcome }
    }

    /// Connects to 127.0.0.1:port.
    public static func connect(port: Int) -> Int32? {
        let fd = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if ok != 0 { close(fd); return nil }
        return fd
    }

    /// Connects to the unix socket at `path`; nil (with `errno` set) when it cannot.
    public static func connect(unixPath path: String) -> Int32? {
        let fd = Foundation.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if ok != 0 {
            let code = errno
            close(fd)
            errno = code
            return nil
        }
        return fd
    }
}

/// A plain TCP server on the loopback that runs a StreamPeer on each connection it accepts,
/// and counts them: a relay that refused a peer must not have connected here at all.
public final class StreamServer: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var peers: [StreamPeer] = []

    public init(sendBytes: Int, seed: UInt8, stopSendingAfter: Int? = nil) throws {
        let (fd, port) = try LoopbackListener.open()
        listener = fd
        self.port = port
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                // Made under the lock: the peer starts talking at once, and a test that saw its stream
                // end must find it in `accepted` (reading `accepted` waits for this append).
                lock.withLock {
                    peers.append(StreamPeer(socket: client, sendBytes: sendBytes, seed: seed, stopSendingAfter: stopSendingAfter))
                }
            }
        }
    }

    public var accepted: [StreamPeer] { lock.withLock { peers } }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
