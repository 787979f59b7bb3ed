import Foundation
import TetherModel
import TetherTestKit
import Testing
@testable import Health

/// Heartbeat records on a real `tether-heartbeats` export served by qemu-nbd.
@Suite(.serialized, .requires(Requirements.qemuNBD, "needs qemu-nbd (apt-get install qemu-utils)"))
struct DatastoreHeartbeatTests {
    @Test func twoWritersAndAReaderWhoSeesWhichStillAdvances() async throws {
        let server = try await NBDServer.start(export: DatastoreHeartbeats.export, size: HeartbeatSlots.regionSize,
                                               port: NBDServer.freePort())
        defer { try? FileManager.default.removeItem(atPath: server.file) }
        let a = HeartbeatWriter(host: "host-a", path: 0), b = HeartbeatWriter(host: "host-b", path: 1)
        var writerA = DatastoreHeartbeats(writer: a), writerB = DatastoreHeartbeats(writer: b)
        let clientA = try NBDClient(server.endpoint), clientB = try NBDClient(server.endpoint), reader = try NBDClient(server.endpoint)
        var progress = HeartbeatProgress(timeout: .seconds(2))
        let t0 = Date()
        for beat in 0..<3 {
            try writerA.beat(through: clientA)
            try writerB.beat(through: clientB)
            progress.observe(try DatastoreHeartbeats.read(through: reader).values, at: t0 + Double(beat))
        }
        #expect(writerA.slot == HeartbeatSlots.home(of: a))
        #expect(progress.verdict(for: a, at: t0 + 2) == .advancing(sequence: 3))
        #expect(progress.verdict(for: b, at: t0 + 2) == .advancing(sequence: 3))
        // b stops; a goes on: two seconds later (by the reader's clock) b is stalled.
        for beat in 3..<6 {
            try writerA.beat(through: clientA)
            progress.observe(try DatastoreHeartbeats.read(through: reader).values, at: t0 + Double(beat))
        }
        #expect(progress.verdict(for: a, at: t0 + 5) == .advancing(sequence: 6))
        #expect(progress.verdict(for: b, at: t0 + 5) == .stalled(sequence: 3, since: t0 + 2))

        // b restarts (a new process): same slot, the sequence continues, never goes back.
        var restarted = DatastoreHeartbeats(writer: b)
        let record = try restarted.beat(through: try NBDClient(server.endpoint))
        #expect(record.sequence == 4 && restarted.slot == writerB.slot)
        // What is on the datastore is what a reader outside Tether would find.
        let image = try Data(contentsOf: URL(fileURLWithPath: server.file))
        let slotB = try #require(restarted.slot)
        #expect(HeartbeatRecord.decode(Array(image[slotB * 512..<(slotB + 1) * 512])[...])?.sequence == 4)
        await server.stop()
    }

    @Test func twoWritersThatClaimTheSameSlotAtOnceEndInTwoSlots() async throws {
        let server = try await NBDServer.start(export: DatastoreHeartbeats.export, size: HeartbeatSlots.regionSize,
                                               port: NBDServer.freePort())
        defer { try? FileManager.default.removeItem(atPath: server.file) }
        // Two names with the same home slot.
        let first = HeartbeatWriter(host: "h0", path: 0)
        var index = 1
        while HeartbeatSlots.home(of: HeartbeatWriter(host: "h\(index)", path: 0)) != HeartbeatSlots.home(of: first) { index += 1 }
        let second = HeartbeatWriter(host: "h\(index)", path: 0)
        var one = DatastoreHeartbeats(writer: first, checkEvery: 4), two = DatastoreHeartbeats(writer: second, checkEvery: 4)
        let clientOne = try NBDClient(server.endpoint), clientTwo = try NBDClient(server.endpoint)
        // Both read the empty region before either writes: the race.
        try one.claim(through: clientOne, deadline: nil)
        try two.claim(through: clientTwo, deadline: nil)
        #expect(one.slot == two.slot)
        for _ in 0..<12 {
            try one.beat(through: clientOne)
            try two.beat(through: clientTwo)
        }
        #expect(one.slot == HeartbeatSlots.home(of: first), "the writer that orders first keeps the slot")
        #expect(two.slot != one.slot)
        let latest = try DatastoreHeartbeats.read(through: try NBDClient(server.endpoint))
        #expect(latest[first]?.sequence == 12)
        #expect(latest[second]?.sequence == 12)
        await server.stop()
    }
}
