import Foundation
import TetherModel
import TetherTestKit
import Testing
@testable import Health

/// The NBD client against a real server (qemu-nbd) and against fake ones that misbehave: every
/// failure is a clear error within the deadline, never a hang.
@Suite(.serialized)
struct NBDClientTests {
    @Test(.requires(Requirements.qemuNBD, "needs qemu-nbd (apt-get install qemu-utils)"))
    func readsWritesWithFUAAndFlushesAgainstQemuNBD() async throws {
        let server = try await NBDServer.start(export: "disk", size: 1 << 20, port: NBDServer.freePort())
        defer { try? FileManager.default.removeItem(atPath: server.file) }
        let client = try NBDClient(server.endpoint)
        #expect(client.exportSize == 1 << 20)
        #expect(client.supportsFUA)
        let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let started = ContinuousClock.now
        try client.write(bytes, at: 8192, fua: true)
        let fuaWrite = ContinuousClock.now - started
        try client.flush()
        #expect(try client.read(at: 8192, length: 4096) == bytes)
        #expect(try client.read(at: 0, length: 512) == [UInt8](repeating: 0, count: 512))
        // A request past the end fails, and the connection stays usable.
        #expect(throws: TetherError.self) { try client.read(at: 1 << 20, length: 512) }
        #expect(try client.read(at: 8192, length: 16) == Array(bytes.prefix(16)))
        client.disconnect()
        #expect(throws: TetherError.self) { try client.read(at: 0, length: 1) }
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: server.file))
        #expect(Array(onDisk[8192..<12288]) == bytes)
        print("nbd: a 4 KiB FUA write on loopback took \(fuaWrite)")

        // An export the server does not have.
        #expect {
            try NBDClient(server.endpoint.with(export: "nope"))
        } throws: { ($0 as? TetherError)?.code == .notFound }
        await server.stop()
        // Nobody listening any more: refused, at once.
        let refusedAt = ContinuousClock.now
        #expect {
            try NBDClient(server.endpoint)
        } throws: { ($0 as? TetherError)?.message.contains("refused") == true }
        #expect(ContinuousClock.now - refusedAt < .milliseconds(500))
    }

    @Test func aServerThatSendsGarbageIsAProtocolViolation() throws {
        let server = try FakeServer { fd in FakeServer.send(fd, Array("SSH-2.0-OpenSSH_9.2p1 Debian\r\n".utf8)) }
        defer { server.stop() }
        #expect {
            try NBDClient(NBDEndpoint(host: "127.0.0.1", port: server.port, export: "x"))
        } throws: { ($0 as? TetherError)?.message.contains("protocol violation") == true }
    }

    @Test func aServerThatStallsInTheHandshakeTimesOutWithinTheDeadline() throws {
        let server = try FakeServer { _ in sleep(5) }
        defer { server.stop() }
        let started = ContinuousClock.now
        #expect {
            try NBDClient(NBDEndpoint(host: "127.0.0.1", port: server.port, export: "x"), timeout: .milliseconds(300))
        } throws: { ($0 as? TetherError)?.code == .timeout }
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(290) && took < .milliseconds(800), "\(took)")
    }

    @Test func aServerThatStallsOnARequestTimesOutAndTheClientIsSpent() throws {
        let server = try FakeServer { fd in
            FakeServer.handshake(fd)
            sleep(5)
        }
        defer { server.stop() }
        let client = try NBDClient(NBDEndpoint(host: "127.0.0.1", port: server.port, export: "x"), timeout: .milliseconds(300))
        #expect(client.exportSize == 1 << 20)
        let started = ContinuousClock.now
        #expect {
            try client.write([UInt8](repeating: 1, count: 512), at: 0, fua: true)
        } throws: { ($0 as? TetherError)?.code == .timeout }
        #expect(ContinuousClock.now - started < .milliseconds(800))
        // Spent: fails at once, not after another deadline.
        let again = ContinuousClock.now
        #expect(throws: TetherError.self) { try client.read(at: 0, length: 512) }
        #expect(ContinuousClock.now - again < .milliseconds(50))
    }

    @Test func aReplyCutShortIsAShortReply() throws {
        let server = try FakeServer { fd in
            FakeServer.handshake(fd)
            FakeServer.receive(fd, 28)
            var reply = ByteWriter()
            reply.u32(NBDProtocol.simpleReplyMagic)
            reply.u32(0)
            reply.u64(1)
            FakeServer.send(fd, reply.bytes + [1, 2, 3])
            shutdown(fd, Int32(SHUT_RDWR))
        }
        defer { server.stop() }
        let client = try NBDClient(NBDEndpoint(host: "127.0.0.1", port: server.port, export: "x"))
        #expect {
            try client.read(at: 0, length: 512)
        } throws: { ($0 as? TetherError)?.message.contains("short reply") == true }
    }

    @Test func aReplyWithBadMagicIsAProtocolViolation() throws {
        let server = try FakeServer { fd in
            FakeServer.handshake(fd)
            FakeServer.receive(fd, 28)
            FakeServer.send(fd, [UInt8](repeating: 0xAB, count: 16))
            sleep(1)
        }
        defer { server.stop() }
        let client = try NBDClient(NBDEndpoint(host: "127.0.0.1", port: server.port, export: "x"))
        #expect {
            try client.flush()
        } throws: { ($0 as? TetherError)?.message.contains("bad magic") == true }
    }
}
