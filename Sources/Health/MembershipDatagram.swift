import Failover
import TetherModel

/// One failure-detector message on the wire: a UDP datagram with the sender's name and the
/// network it is about, so a stray or misaddressed datagram is dropped, not believed.
///
/// Layout (big-endian): magic `TM`, version (1), kind (0 ping, 1 ack, 2 ping-request),
/// network and sender (each a length byte and UTF-8), sequence (u64), for a ping-request the
/// target (length byte and UTF-8), then the updates: a count byte and per update the host
/// (length byte and UTF-8), the state (0 alive, 1 suspect, 2 dead) and the incarnation (u64).
/// Names are 1 to 255 bytes; at most 64 updates; nothing may follow the last field.
public struct MembershipDatagram: Sendable, Equatable {
    public var network: String
    public var sender: String
    public var message: MembershipMessage

    static let magic: [UInt8] = [0x54, 0x4D]
    static let version: UInt8 = 1
    static let maximumUpdates = 64

    public init(network: String, sender: String, message: MembershipMessage) {
        self.network = network
        self.sender = sender
        self.message = message
    }

    public func encoded() throws(TetherError) -> [UInt8] {
        var out = ByteWriter()
        out.append(Self.magic)
        out.u8(Self.version)
        let sequence: UInt64
        var target: String?
        switch message {
        case .ping(let number, _):
            out.u8(0)
            sequence = number
        case .ack(let number, _):
            out.u8(1)
            sequence = number
        case .pingRequest(let number, let about, _):
            out.u8(2)
            sequence = number
            target = about
        }
        try Self.name(network, into: &out)
        try Self.name(sender, into: &out)
        out.u64(sequence)
        if let target { try Self.name(target, into: &out) }
        let updates = message.updates
        guard updates.count <= Self.maximumUpdates else {
            throw TetherError(.invalidArgument, "\(updates.count) updates in one message (64 at most)")
        }
        out.u8(UInt8(updates.count))
        for update in updates {
            try Self.name(update.host, into: &out)
            out.u8(Self.code(of: update.state))
            out.u64(update.incarnation)
        }
        return out.bytes
    }

    public init(decoding bytes: [UInt8]) throws(TetherError) {
        var reader = ByteReader(bytes)
        guard let magic = try? reader.take(2), magic.elementsEqual(Self.magic) else {
            throw Self.malformed("not a Tether membership datagram")
        }
        guard let version = try? reader.u8() else { throw Self.malformed("no version") }
        guard version == Self.version else {
            throw TetherError(.unsupported, "membership datagram of version \(version); this host speaks \(Self.version)")
        }
        guard let kind = try? reader.u8(), kind <= 2 else { throw Self.malformed("unknown message kind") }
        network = try Self.name(from: &reader, "network")
        sender = try Self.name(from: &reader, "sender")
        guard let sequence = try? reader.u64() else { throw Self.malformed("no sequence") }
        let target = kind == 2 ? try Self.name(from: &reader, "target") : nil
        guard let count = try? reader.u8(), Int(count) <= Self.maximumUpdates else { throw Self.malformed("bad update count") }
        var updates: [MemberUpdate] = []
        for _ in 0..<count {
            let host = try Self.name(from: &reader, "update host")
            guard let code = try? reader.u8(), let state = Self.state(code), let incarnation = try? reader.u64() else {
                throw Self.malformed("update about \(host) cut short or with an unknown state")
            }
            updates.append(MemberUpdate(host: host, state: state, incarnation: incarnation))
        }
        guard reader.isAtEnd else { throw Self.malformed("\(reader.remaining) bytes after the last field") }
        switch (kind, target) {
        case (0, _): message = .ping(sequence: sequence, updates: updates)
        case (1, _): message = .ack(sequence: sequence, updates: updates)
        case (_, let target?): message = .pingRequest(sequence: sequence, target: target, updates: updates)
        default: throw Self.malformed("ping request without a target")
        }
    }

    private static func name(_ text: String, into out: inout ByteWriter) throws(TetherError) {
        let bytes = Array(text.utf8)
        guard (1...255).contains(bytes.count) else {
            throw TetherError(.invalidArgument, "a name on the wire must be 1 to 255 bytes: '\(text)'")
        }
        out.u8(UInt8(bytes.count))
        out.append(bytes)
    }

    private static func name(from reader: inout ByteReader, _ what: String) throws(TetherError) -> String {
        guard let length = try? reader.u8(), length > 0, let bytes = try? reader.take(Int(length)),
              let text = String(validating: bytes, as: UTF8.self) else { throw malformed("bad \(what) name") }
        return text
    }

    private static func code(of state: MemberState) -> UInt8 {
        switch state {
        case .alive: 0
        case .suspect: 1
        case .dead: 2
        }
    }

    private static func state(_ code: UInt8) -> MemberState? {
        switch code {
        case 0: .alive
        case 1: .suspect
        case 2: .dead
        default: nil
        }
    }

    static func malformed(_ what: String) -> TetherError {
        TetherError(.invalidArgument, "malformed membership datagram: \(what)")
    }
}
