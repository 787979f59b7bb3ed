import Foundation
import TetherModel
import Testing
@testable import Health

/// rtnetlink messages as the kernel lays them out, built here byte by byte.
struct NetlinkParsingTests {
    static func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u16(UInt16(4 + value.count), bigEndian: false)
        writer.u16(type, bigEndian: false)
        writer.append(value)
        writer.append(repeatElement(0, count: NetlinkMessage.align(value.count) - value.count))
        return writer.bytes
    }

    static func message(_ type: UInt16, _ body: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(UInt32(16 + body.count), bigEndian: false)
        writer.u16(type, bigEndian: false)
        writer.u16(0, bigEndian: false)
        writer.u32(1, bigEndian: false)
        writer.u32(0, bigEndian: false)
        writer.append(body)
        return writer.bytes
    }

    static func newLink(index: UInt32, name: String, flags: UInt32, operState: UInt8) -> [UInt8] {
        var body = ByteWriter()
        body.u8(0)
        body.u8(0)
        body.u16(1, bigEndian: false)
        body.u32(index, bigEndian: false)
        body.u32(flags, bigEndian: false)
        body.u32(0xFFFF_FFFF, bigEndian: false)
        body.append(attribute(4, [0xDC, 0x05, 0, 0]))
        body.append(attribute(3, Array(name.utf8) + [0]))
        body.append(attribute(16, [operState]))
        return message(16, body.bytes)
    }

    static func newAddress(index: UInt32, address: [UInt8]) -> [UInt8] {
        var body = ByteWriter()
        body.append([UInt8(AF_INET), 24, 0, 0])
        body.u32(index, bigEndian: false)
        body.append(attribute(1, address))
        body.append(attribute(2, address))
        return message(20, body.bytes)
    }

    @Test func aDatagramOfLinksAddressesAndDoneIsParsed() throws {
        let bytes = Self.newLink(index: 7, name: "st0", flags: 0x1_1043, operState: 6)
            + Self.newLink(index: 8, name: "mig0", flags: 0x1003, operState: 2)
            + Self.newAddress(index: 7, address: [10, 83, 0, 11])
            + Self.message(3, [0, 0, 0, 0])
        let messages = try NetlinkMessage.parse(bytes)
        #expect(messages == [
            .link(LinkState(index: 7, name: "st0", adminUp: true, carrier: true, operState: .up), removed: false),
            .link(LinkState(index: 8, name: "mig0", adminUp: true, carrier: false, operState: .down), removed: false),
            .address(InterfaceAddress(index: 7, address: "10.83.0.11", prefixLength: 24), removed: false),
            .done,
        ])
        if case .link(let up, _) = messages[0], case .link(let down, _) = messages[1] {
            #expect(up.isUp && !down.isUp)
        }
    }

    @Test func everyTruncationAndCorruptionIsAnErrorOrAValueNeverACrash() {
        let valid = Self.newLink(index: 7, name: "st0", flags: 0x1_1043, operState: 6) + Self.newAddress(index: 7, address: [10, 0, 0, 1])
        for length in 0..<valid.count {
            _ = try? NetlinkMessage.parse(Array(valid.prefix(length)))
        }
        var random = SplitMix64(seed: 11)
        for _ in 0..<20_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            _ = try? NetlinkMessage.parse(bytes)
            let noise = (0..<Int.random(in: 0...120, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? NetlinkMessage.parse(noise)
        }
        // A length past the end, or shorter than a header, is reported.
        var lying = valid
        lying[0] = 0xFF
        #expect(throws: NetlinkMessage.Malformed.self) { try NetlinkMessage.parse(lying) }
        lying[0] = 4
        #expect(throws: NetlinkMessage.Malformed.self) { try NetlinkMessage.parse(lying) }
        #expect(throws: NetlinkMessage.Malformed.self) { try NetlinkMessage.parse(Array(valid.prefix(20))) }
    }

    @Test func aDumpRequestIsAWellFormedNetlinkMessage() throws {
        let request = NetlinkMessage.dumpRequest(NetlinkMessage.getLink, sequence: 5)
        #expect(request.count == 32)
        #expect(try NetlinkMessage.parse(request) == [.other(type: NetlinkMessage.getLink)])
    }
}
