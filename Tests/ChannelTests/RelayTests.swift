import Channel
import Foundation
import Testing
import TetherModel
import TetherTestSupport

/// The relay on real sockets and real TLS: a client talks plain TCP to the `connect` end, which
/// carries it over mutual TLS 1.3 to the `serve` end, which forwards to a plain TCP server.
struct RelayTests {
    /// A CA with `dev-host`, `vm-host` and `intruder`; a second CA's `vm-host`; an expired `old-vm`.
    final class PKI: @unchecked Sendable {
        let dir: String
        let foreign: String
        init() throws {
            dir = try Fixtures.temporaryDirectory().path
            foreign = try Fixtures.temporaryDirectory().path
            _ = try ClusterCA.initialize(in: dir)
            for name in ["dev-host", "vm-host", "intruder"] { _ = try ClusterCA.issue(name: name, in: dir) }
            _ = try ClusterCA.issue(name: "old-vm", in: dir, notBefore: Date().addingTimeInterval(-7200),
                                    notAfter: Date().addingTimeInterval(-3600))
            _ = try ClusterCA.initialize(in: foreign)
            _ = try ClusterCA.issue(name: "vm-host", in: foreign)
        }
        deinit {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: foreign)
        }
    }

    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        var sink: @Sendable (String) -> Void { { line in self.lock.withLock { self.lines.append(line) } } }
        var all: [String] { lock.withLock { lines } }
        func waitFor(_ text: String, timeout: TimeInterval = 10) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if all.contains(where: { $0.contains(text) }) { return true }
                usleep(5000)
            }
            return false
        }
    }

    /// serve (dev-host, allowing `allow`) in front of `target`, and connect (as `client` from `clientDir`).
    func chain(_ pki: PKI, target: StreamServer, client: String = "vm-host", clientDir: String? = nil,
               allow: Set<String>? = ["vm-host"], log: Log) async throws -> (ChannelRelay, ChannelRelay) {
        let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                 targetPort: target.port, identity: TLSIdentity(directory: pki.dir, name: "dev-host"),
                                                 allow: allow, log: log.sink)
        let connect = try await ChannelRelay.start(.connect, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                   targetPort: serve.port, identity: TLSIdentity(directory: clientDir ?? pki.dir, name: client),
                                                   allow: ["dev-host"], log: log.sink)
        return (serve, connect)
    }

    static let size = Int(ProcessInfo.processInfo.environment["TETHER_RELAY_TEST_BYTES"] ?? "") ?? (1 << 30)

    @Test func bytesCrossBothWaysIntactAndAreMetered() async throws {
        let pki = try PKI()
        let log = Log()
        let target = try StreamServer(sendBytes: Self.size, seed: 2)
        let (serve, connect) = try await chain(pki, target: target, log: log)
        let fd = try #require(StreamPeer.connect(port: connect.port))
        let client = StreamPeer(socket: fd, sendBytes: Self.size, seed: 1)
        let mine = try #require(client.wait(timeout: 600), "the stream did not finish")
        let theirs = try #require(target.accepted.first?.wait(timeout: 60))
        #expect(theirs.receivedBytes == Self.size)
        #expect(theirs.receivedDigest == mine.sentDigest, "VM to device intact")
        #expect(mine.receivedBytes == Self.size)
        #expect(mine.receivedDigest == theirs.sentDigest, "device to VM intact")
        #expect(serve.meter.total(.toDevice) == Self.size)
        #expect(serve.meter.total(.toVM) == Self.size)
        #expect(connect.meter.total(.toDevice) == Self.size)
        #expect(serve.meter.rate(.toVM) > 0)
        #expect(log.waitFor("admitted"))
        await serve.stop()
        await connect.stop()
    }

    /// Two devices' streams through the same relay pair at once (every connection of a relay
    /// shares its one event loop): both arrive intact and are counted.
    @Test func concurrentStreamsDoNotMix() async throws {
        let pki = try PKI()
        let log = Log()
        let size = 32 << 20
        let target = try StreamServer(sendBytes: size, seed: 9)
        let (serve, connect) = try await chain(pki, target: target, log: log)
        let clients = try (1...2).map { seed -> StreamPeer in
            let fd = try #require(StreamPeer.connect(port: connect.port))
            return StreamPeer(socket: fd, sendBytes: size, seed: UInt8(seed))
        }
        let mine = try clients.map { try #require($0.wait(timeout: 300)) }
        for _ in 0..<500 where target.accepted.count < 2 { usleep(10_000) }
        let theirs = try target.accepted.map { try #require($0.wait(timeout: 60)) }
        // Issue 5: this once lost a stream's tail about 1 run in 15, when a side's input ended
        // while its output still drained (GlueHandlerTests pins that ordering down).
        #expect(mine.allSatisfy { $0.receivedDigest == StreamPeer.digest(bytes: size, seed: 9) },
                "device to VM: received \(mine.map(\.receivedBytes)) of \(size); device side got \(theirs.map(\.receivedBytes))")
        #expect(Set(theirs.map(\.receivedDigest)) == Set(mine.map(\.sentDigest)), "each device got its own VM's bytes")
        #expect(serve.meter.total(.toDevice) == 2 * size)
        #expect(serve.meter.total(.toVM) == 2 * size)
        #expect(connect.meter.total(.toVM) == 2 * size)
        await serve.stop()
        await connect.stop()
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var client: String
        var foreignCA = false
        var says: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        Refusal(name: "a certificate from another CA", client: "vm-host", foreignCA: true, says: "refused"),
        Refusal(name: "an expired certificate", client: "old-vm", says: "refused"),
        Refusal(name: "a name not allowed", client: "intruder", says: "certificate names [\"intruder\"] are not allowed"),
    ])
    func refusedPeersGetNothingThrough(_ r: Refusal) async throws {
        let pki = try PKI()
        let log = Log()
        let target = try StreamServer(sendBytes: 1 << 20, seed: 2)
        let (serve, connect) = try await chain(pki, target: target, client: r.client, clientDir: r.foreignCA ? pki.foreign : nil, log: log)
        let fd = try #require(StreamPeer.connect(port: connect.port))
        let client = StreamPeer(socket: fd, sendBytes: 1 << 20, seed: 1)
        let outcome = try #require(client.wait(timeout: 30), "a refused connection must be closed, not left hanging")
        #expect(outcome.receivedBytes == 0, "nothing from the device side")
        #expect(log.waitFor(r.says), "\(log.all)")
        #expect(target.accepted.isEmpty, "the target was never reached")
        #expect(serve.meter.total(.toDevice) == 0)
        await serve.stop()
        await connect.stop()
    }

    @Test func aPlaintextClientIsRefused() async throws {
        let pki = try PKI()
        let log = Log()
        let target = try StreamServer(sendBytes: 1 << 20, seed: 2)
        let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                 targetPort: target.port, identity: TLSIdentity(directory: pki.dir, name: "dev-host"),
                                                 log: log.sink)
        let fd = try #require(StreamPeer.connect(port: serve.port))
        let client = StreamPeer(socket: fd, sendBytes: 4096, seed: 1)
        let outcome = try #require(client.wait(timeout: 30))
        #expect(outcome.receivedBytes <= 7, "at most the server's TLS alert, never device data")
        #expect(log.waitFor("TLS handshake failed"), "\(log.all)")
        #expect(target.accepted.isEmpty)
        await serve.stop()
    }

    @Test func aServerWhoseNameIsNotAllowedIsRefusedByTheConnectEnd() async throws {
        let pki = try PKI()
        let log = Log()
        let target = try StreamServer(sendBytes: 1 << 20, seed: 2)
        let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                 targetPort: target.port, identity: TLSIdentity(directory: pki.dir, name: "intruder"),
                                                 log: log.sink)
        let connect = try await ChannelRelay.start(.connect, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                   targetPort: serve.port, identity: TLSIdentity(directory: pki.dir, name: "vm-host"),
                                                   allow: ["dev-host"], log: log.sink)
        let fd = try #require(StreamPeer.connect(port: connect.port))
        let outcome = try #require(StreamPeer(socket: fd, sendBytes: 4096, seed: 1).wait(timeout: 30))
        #expect(outcome.receivedBytes == 0)
        #expect(log.waitFor("refused 127.0.0.1:\(serve.port): certificate names [\"intruder\"]"), "\(log.all)")
        await serve.stop()
        await connect.stop()
    }

    @Test func aPeerThatVanishesMidStreamClosesTheOtherSideAndIsReported() async throws {
        let pki = try PKI()
        let log = Log()
        // The device side sends 1 MiB of an announced 64 MiB, then its socket is closed outright.
        let target = try StreamServer(sendBytes: 64 << 20, seed: 2, stopSendingAfter: 1 << 20)
        let (serve, connect) = try await chain(pki, target: target, log: log)
        let fd = try #require(StreamPeer.connect(port: connect.port))
        let outcome = try #require(StreamPeer(socket: fd, sendBytes: 1 << 20, seed: 1).wait(timeout: 60),
                                   "the client must see its stream end, not hang")
        #expect(outcome.receivedBytes <= 64 << 20)
        #expect(log.waitFor("closed"), "\(log.all)")
        await serve.stop()
        await connect.stop()
    }

    /// Both ends send a short message and end their stream at once: the client before the relay
    /// has reached the device side, the device side before its glue is in place. NIO reads a
    /// socket to its end when the peer closes, reading on or off, so a relay that did not hold
    /// those reads lost the bytes and the end (found by the relay benchmark with 64 KiB streams:
    /// the device side never saw its stream end).
    @Test(arguments: [1, 64, 65_536], [true, false])
    func aShortStreamEndedAtOnceArrivesWholeAndEnds(bytes: Int, tls: Bool) async throws {
        let pki = try PKI()
        let log = Log()
        // Both patterns made now, so that each peer sends the moment it is connected.
        let (toVM, toDevice) = (StreamPeer.digest(bytes: bytes, seed: 4), StreamPeer.digest(bytes: bytes, seed: 3))
        let target = try StreamServer(sendBytes: bytes, seed: 4)
        let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                 targetPort: target.port, identity: tls ? TLSIdentity(directory: pki.dir, name: "dev-host") : nil,
                                                 allow: tls ? ["vm-host"] : nil, log: log.sink)
        let connect = try await ChannelRelay.start(.connect, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                   targetPort: serve.port, identity: tls ? TLSIdentity(directory: pki.dir, name: "vm-host") : nil,
                                                   allow: tls ? ["dev-host"] : nil, log: log.sink)
        for round in 0..<5 {
            let fd = try #require(StreamPeer.connect(port: connect.port))
            let mine = try #require(StreamPeer(socket: fd, sendBytes: bytes, seed: 3).wait(timeout: 30),
                                    "round \(round): the client's stream never ended: \(log.all)")
            for _ in 0..<500 where target.accepted.count <= round { usleep(10_000) }
            let theirs = try #require(target.accepted.count > round ? target.accepted[round].wait(timeout: 30) : nil,
                                      "round \(round): the device side's stream never ended: \(log.all)")
            #expect(mine.receivedDigest == toVM, "round \(round): device to VM, \(mine.receivedBytes) of \(bytes)")
            #expect(theirs.receivedDigest == toDevice, "round \(round): VM to device, \(theirs.receivedBytes) of \(bytes)")
        }
        await serve.stop()
        await connect.stop()
    }

    /// A session's VM side that sends its preamble and goes before the device side is joined
    /// to it: the device's first bytes are held for the session, not written to the VM side
    /// that went, and the VM that comes back for the session gets the stream from its start.
    @Test func aSessionWhoseVMSideGoesBeforeItsGlueKeepsTheDevicesFirstBytes() async throws {
        let bytes = 4_096
        let expected = StreamPeer.digest(bytes: bytes, seed: 6)
        let log = Log()
        let device = try StreamServer(sendBytes: bytes, seed: 6)
        let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1",
                                                 targetPort: device.port, identity: nil, log: log.sink)
        let preamble = Array("TETHER-CHANNEL 1 SESSION s1\n".utf8)
        let first = try #require(StreamPeer.connect(port: serve.port))
        // Corked, so the preamble and the end of the stream leave in one segment: the relay
        // reads both before it can have reached the device.
        _ = preamble.withUnsafeBytes { send(first, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_MORE)) }
        shutdown(first, Int32(SHUT_WR))
        #expect(log.waitFor("holding the device's stream"), "\(log.all)")
        defer { close(first) }
        let second = try #require(StreamPeer.connect(port: serve.port))
        defer { close(second) }
        _ = preamble.withUnsafeBytes { send(second, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // Read to the device's end without ending this side (that would be this VM going too).
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(second, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(second, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        #expect(StreamPeer.digest(of: received) == expected, "got \(received.count) of \(bytes) bytes: \(log.all)")
        await serve.stop()
    }
}
