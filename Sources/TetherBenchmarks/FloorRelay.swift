import Foundation
import TetherTestSupport
import USBRedirReplay

/// The least a user-space TCP relay can do per message: a thread per direction, blocked in
/// `recv`, that `send`s what it got. No poll, no event loop, no buffer but one on the stack;
/// one wake-up, one `recv` and one `send` per message and hop (socat adds a `poll`). Not a
/// relay anyone should run (two threads per connection, no TLS, no backpressure beyond the
/// kernel's): it is the benchmark's floor, what the machine itself charges for a hop, so that
/// a latency goal can be read against what is possible here at all.
final class FloorRelay: @unchecked Sendable {
    let port: Int
    private let listener: Int32

    /// Listens on a loopback port of its own and carries each connection to `targetPort`.
    init(targetPort: Int) throws {
        (listener, port) = try LoopbackListener.open(backlog: 64)
        let listener = self.listener
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                guard let target = StreamPeer.connect(port: targetPort) else { close(client); continue }
                for fd in [client, target] { Self.noDelay(fd) }
                let pair = Pair(client, target)
                Self.pump(from: client, to: target, pair)
                Self.pump(from: target, to: client, pair)
            }
        }
    }

    deinit {
        // Ends the accept loop; connections already carried end with their peers.
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// One direction: until `from` ends, what it reads goes to `to`; then `to`'s output ends.
    private static func pump(from: Int32, to: Int32, _ pair: Pair) {
        Thread.detachNewThread {
            let size = 1 << 16
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            defer { buffer.deallocate() }
            reading: while true {
                let n = recv(from, buffer, size, 0)
                if n <= 0 { break }
                var sent = 0
                while sent < n {
                    let w = send(to, buffer + sent, n - sent, Int32(MSG_NOSIGNAL))
                    if w <= 0 { break reading }
                    sent += w
                }
            }
            shutdown(to, Int32(SHUT_WR))
            shutdown(from, Int32(SHUT_RD))
            pair.directionEnded()
        }
    }

    /// A connection's two descriptors, closed when both directions have ended.
    private final class Pair: @unchecked Sendable {
        private let lock = NSLock()
        private var running = 2
        private let descriptors: (Int32, Int32)
        init(_ a: Int32, _ b: Int32) { descriptors = (a, b) }
        func directionEnded() {
            guard lock.withLock({ running -= 1; return running == 0 }) else { return }
            close(descriptors.0)
            close(descriptors.1)
        }
    }
}
