import Failover
import Foundation
import TetherModel
import Testing
@testable import Health

/// The pure parts: bytes in, values or errors out; never a crash on hostile or cut bytes.
struct NBDProtocolTests {
    @Test func aGreetingWithTheRightMagicGivesTheServersFlags() throws {
        var writer = ByteWriter()
        writer.u64(NBDProtocol.nbdMagic)
        writer.u64(NBDProtocol.optionMagic)
        writer.u16(3)
        #expect(try NBDProtocol.parseGreeting(writer.bytes) == 3)
    }

    @Test func badMagicShortGreetingsAndOldstyleServersAreProtocolViolations() {
        var oldstyle = ByteWriter()
        oldstyle.u64(NBDProtocol.nbdMagic)
        oldstyle.u64(0x0000_4202_8186_1253)
        oldstyle.u16(0)
        let http = Array("HTTP/1.1 200 OK\r\n\r\nxx".utf8)
        for bytes in [http, oldstyle.bytes, Array(oldstyle.bytes.prefix(5))] {
            #expect {
                try NBDProtocol.parseGreeting(bytes)
            } throws: { error in
                (error as? TetherError)?.message.contains("protocol violation") == true
            }
        }
    }

    @Test func repliesAreCheckedForMagicAndLength() throws {
        var reply = ByteWriter()
        reply.u32(NBDProtocol.simpleReplyMagic)
        reply.u32(5)
        reply.u64(42)
        let parsed = try NBDProtocol.parseSimpleReply(reply.bytes)
        #expect(parsed.error == 5 && parsed.cookie == 42)
        #expect(throws: TetherError.self) { try NBDProtocol.parseSimpleReply(Array(reply.bytes.prefix(10))) }
        var structured = ByteWriter()
        structured.u32(0x668E_33EF)
        structured.u32(0)
        structured.u64(1)
        #expect(throws: TetherError.self) { try NBDProtocol.parseSimpleReply(structured.bytes) }
        #expect(NBDProtocol.optionErrorMessage(NBDProtocol.replyErrorUnknown, export: "x").code == .notFound)
    }

    @Test func theGoOptionNamesTheExport() throws {
        let bytes = NBDProtocol.goOption(export: "tether-heartbeats")
        var reader = ByteReader(bytes)
        #expect(try reader.u64() == NBDProtocol.optionMagic)
        #expect(try reader.u32() == NBDProtocol.optionGo)
        #expect(try reader.u32() == UInt32(4 + 17 + 2))
        #expect(try reader.u32() == 17)
        #expect(String(decoding: try reader.take(17), as: UTF8.self) == "tether-heartbeats")
        #expect(try reader.u16() == 0)
        #expect(reader.isAtEnd)
    }

    @Test(arguments: [
        ("nbd://10.83.0.1:10809/ds1", "10.83.0.1", 10809, "ds1"),
        ("nbd://10.83.0.1:10900", "10.83.0.1", 10900, "fallback"),
        ("nbd://storage/vm-1", "storage", 10809, "vm-1"),
        ("nbd://[::1]:10809/e", "::1", 10809, "e"),
    ])
    func uris(uri: String, host: String, port: Int, export: String) throws {
        let endpoint = try NBDEndpoint(uri: uri, export: "fallback")
        #expect(endpoint.host == host && Int(endpoint.port) == port && endpoint.export == export)
    }

    @Test(arguments: ["http://a:1/b", "nbd://", "nbd://a:0/x", "nbd://a:99999/x", "nbd://a:b:c/x"])
    func badURIs(uri: String) {
        #expect(throws: TetherError.self) { try NBDEndpoint(uri: uri) }
    }
}

struct HeartbeatRecordTests {
    let writer = HeartbeatWriter(host: "host-a", path: 1)

    @Test func aRecordRoundTripsThroughItsSector() throws {
        let record = HeartbeatRecord(writer: writer, sequence: 77, time: Date(timeIntervalSince1970: 1_700_000_000.123))
        let sector = try record.encoded()
        #expect(sector.count == 512)
        #expect(HeartbeatRecord.decode(sector[...]) == record)
    }

    @Test func anyFlippedByteEmptyOrForeignSectorIsNoRecord() throws {
        let sector = try HeartbeatRecord(writer: writer, sequence: 1, time: Date()).encoded()
        for index in stride(from: 0, to: 512, by: 7) {
            var torn = sector
            torn[index] ^= 0x40
            #expect(HeartbeatRecord.decode(torn[...]) == nil, "byte \(index) flipped")
        }
        #expect(HeartbeatRecord.decode([UInt8](repeating: 0, count: 512)[...]) == nil)
        #expect(HeartbeatRecord.decode(sector.prefix(511)) == nil)
        var random = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let noise = (0..<512).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect(HeartbeatRecord.decode(noise[...]) == nil)
        }
    }

    @Test func namesMustFitTheRecord() {
        let empty = HeartbeatRecord(writer: HeartbeatWriter(host: "", path: 0), sequence: 1, time: Date())
        #expect(throws: TetherError.self) { try empty.encoded() }
        let long = String(repeating: "h", count: 256)
        let tooLong = HeartbeatRecord(writer: HeartbeatWriter(host: long, path: 0), sequence: 1, time: Date())
        #expect(throws: TetherError.self) { try tooLong.encoded() }
    }
}

struct HeartbeatSlotTests {
    @Test func theHomeSlotIsDeterministicAndSpread() {
        let writers = (0..<200).flatMap { host in (0..<2).map { HeartbeatWriter(host: "host-\(host)", path: $0) } }
        let homes = writers.map(HeartbeatSlots.home(of:))
        #expect(homes == writers.map(HeartbeatSlots.home(of:)))
        #expect(homes.allSatisfy { (0..<HeartbeatSlots.count).contains($0) })
        // 400 writers into 2048 slots: a good hash leaves few collisions (expected about 37).
        #expect(Set(homes).count > 340)
    }

    @Test func aWriterProbesPastOthersAndFindsItsOwnSlotAgain() {
        let a = HeartbeatWriter(host: "host-a", path: 0)
        let home = HeartbeatSlots.home(of: a)
        let other = HeartbeatWriter(host: "intruder", path: 0)
        #expect(HeartbeatSlots.choose(for: a, occupied: [:]) == home)
        #expect(HeartbeatSlots.choose(for: a, occupied: [home: other]) == (home + 1) % HeartbeatSlots.count)
        #expect(HeartbeatSlots.choose(for: a, occupied: [home: other, (home + 1) % 2048: other]) == (home + 2) % 2048)
        // Its own record, even past an empty slot, is where it continues.
        #expect(HeartbeatSlots.choose(for: a, occupied: [home: other, (home + 5) % 2048: a]) == (home + 5) % 2048)
        #expect(HeartbeatSlots.choose(for: a, occupied: [:], avoiding: [home]) == (home + 1) % 2048)
        let full = Dictionary(uniqueKeysWithValues: (0..<2048).map { ($0, other) })
        #expect(HeartbeatSlots.choose(for: a, occupied: full) == nil)
    }

    @Test func aRegionReadGivesEveryValidRecordBySlot() throws {
        var region = [UInt8](repeating: 0, count: HeartbeatSlots.regionSize)
        let record = HeartbeatRecord(writer: HeartbeatWriter(host: "b", path: 0), sequence: 9, time: Date(timeIntervalSince1970: 5))
        region.replaceSubrange(2047 * 512..<2048 * 512, with: try record.encoded())
        region[10] = 0xFF
        #expect(HeartbeatSlots.records(in: region) == [2047: record])
        #expect(HeartbeatSlots.records(in: Array(region.prefix(1000))).isEmpty)
    }
}

struct HeartbeatProgressTests {
    let a = HeartbeatWriter(host: "a", path: 0)
    let t0 = Date(timeIntervalSince1970: 1000)

    func record(_ sequence: UInt64) -> HeartbeatRecord { HeartbeatRecord(writer: a, sequence: sequence, time: .distantPast) }

    @Test func aSequenceThatMovesIsAdvancingAndOneThatStopsIsStalledAfterTheTimeout() {
        var progress = HeartbeatProgress(timeout: .seconds(2))
        #expect(progress.verdict(for: a, at: t0) == .unknown)
        progress.observe([record(5)], at: t0)
        #expect(progress.verdict(for: a, at: t0 + 1) == .unknown, "a first sight proves nothing")
        progress.observe([record(6)], at: t0 + 1)
        #expect(progress.verdict(for: a, at: t0 + 2.9) == .advancing(sequence: 6))
        progress.observe([record(6)], at: t0 + 2.9)
        #expect(progress.verdict(for: a, at: t0 + 3) == .stalled(sequence: 6, since: t0 + 1))
        progress.observe([record(7)], at: t0 + 3.5)
        #expect(progress.verdict(for: a, at: t0 + 3.5) == .advancing(sequence: 7))
    }

    @Test func aRecordThatNeverMovesIsStalledOnceWatchedForTheTimeout() {
        var progress = HeartbeatProgress(timeout: .seconds(2))
        progress.observe([record(5)], at: t0)
        progress.observe([record(5)], at: t0 + 2)
        #expect(progress.verdict(for: a, at: t0 + 2) == .stalled(sequence: 5, since: t0))
        #expect(progress.verdicts(at: t0 + 2).count == 1)
    }
}

struct NetworkHealthRuleTests {
    @Test(arguments: [
        (false, [String: MemberState](), NetworkState.down),
        (false, ["b": .alive], .down),
        (true, [:], .up),
        (true, ["b": .alive, "c": .alive], .up),
        (true, ["b": .alive, "c": .suspect], .partial),
        (true, ["b": .dead, "c": .alive], .partial),
        (true, ["b": .dead, "c": .suspect], .down),
        (true, ["b": .dead], .down),
    ])
    func theLinkAndTheVerdictsMakeTheState(link: Bool, peers: [String: MemberState], expected: NetworkState) {
        #expect(NetworkHealth.state(link: link, peers: peers) == expected)
    }
}

struct MembershipDatagramTests {
    static let messages: [MembershipMessage] = [
        .ping(sequence: 1, updates: []),
        .ack(sequence: UInt64.max, updates: [MemberUpdate(host: "host-b", state: .suspect, incarnation: 3)]),
        .pingRequest(sequence: 9, target: "host-c", updates: [
            MemberUpdate(host: "host-a", state: .alive, incarnation: 0), MemberUpdate(host: "hôst-d", state: .dead, incarnation: 12),
        ]),
    ]

    @Test(arguments: messages)
    func everyMessageRoundTrips(message: MembershipMessage) throws {
        let datagram = MembershipDatagram(network: "migration", sender: "host-a", message: message)
        let bytes = try datagram.encoded()
        #expect(try MembershipDatagram(decoding: bytes) == datagram)
        // Every cut of it is rejected, and so is anything appended.
        for length in 0..<bytes.count {
            #expect(throws: TetherError.self) { try MembershipDatagram(decoding: Array(bytes.prefix(length))) }
        }
        #expect(throws: TetherError.self) { try MembershipDatagram(decoding: bytes + [0]) }
    }

    @Test func anotherVersionIsUnsupported() throws {
        var bytes = try MembershipDatagram(network: "vm", sender: "a", message: .ping(sequence: 1, updates: [])).encoded()
        bytes[2] = 2
        do {
            _ = try MembershipDatagram(decoding: bytes)
            Issue.record("version 2 was accepted")
        } catch {
            #expect(error.code == .unsupported)
        }
    }

    @Test func randomAndMutatedBytesAreRejectedOrDecodedNeverACrash() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let valid = try MembershipDatagram(network: "management", sender: "host-a", message: Self.messages[2]).encoded()
        var decoded = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if round % 4 == 0, bytes.count >= 3 { bytes[0] = 0x54; bytes[1] = 0x4D; bytes[2] = 1 }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            if let datagram = try? MembershipDatagram(decoding: bytes) {
                decoded += 1
                // Whatever decodes encodes back to the same bytes: nothing was read loosely.
                #expect(try datagram.encoded() == bytes, "seed \(seed)")
            }
        }
        #expect(decoded < 20_000, "seed \(seed)")
    }
}
