import Foundation
import TetherModel

/// A network interface's state as the kernel reports it (rtnetlink, RTM_NEWLINK).
public struct LinkState: Sendable, Equatable {
    /// RFC 2863 operational state (IFLA_OPERSTATE).
    public enum OperState: UInt8, Sendable {
        case unknown = 0, notPresent, down, lowerLayerDown, testing, dormant, up
    }

    public var index: Int32
    public var name: String
    /// IFF_UP: the administrator set it up.
    public var adminUp: Bool
    /// IFF_LOWER_UP: the carrier (the veth's peer is up, the cable is in).
    public var carrier: Bool
    public var operState: OperState

    public init(index: Int32, name: String, adminUp: Bool, carrier: Bool, operState: OperState) {
        self.index = index
        self.name = name
        self.adminUp = adminUp
        self.carrier = carrier
        self.operState = operState
    }

    /// Up for traffic: set up, with a carrier, and not held down by the kernel (loopback and
    /// some virtual links report `unknown`, which counts as up).
    public var isUp: Bool { adminUp && carrier && (operState == .up || operState == .unknown) }
}

/// An IPv4 address on an interface (RTM_NEWADDR).
public struct InterfaceAddress: Sendable, Equatable {
    public var index: Int32
    public var address: String
    public var prefixLength: UInt8
}

/// The rtnetlink messages the link monitor reads, parsed from bytes: pure, and never trusting
/// a length (a truncated or malformed message is an error, never a crash).
enum NetlinkMessage: Equatable {
    case link(LinkState, removed: Bool)
    case address(InterfaceAddress, removed: Bool)
    case done
    case error(code: Int32)
    case overrun
    case other(type: UInt16)

    static let headerSize = 16
    static let newLink: UInt16 = 16, delLink: UInt16 = 17, getLink: UInt16 = 18
    static let newAddress: UInt16 = 20, delAddress: UInt16 = 21, getAddress: UInt16 = 22
    static let typeError: UInt16 = 2, typeDone: UInt16 = 3, typeOverrun: UInt16 = 4
    static let flagRequest: UInt16 = 0x1, flagDump: UInt16 = 0x300
    static let iffUp: UInt32 = 0x1, iffLowerUp: UInt32 = 0x1_0000
    static let iflaName: UInt16 = 3, iflaOperState: UInt16 = 16
    static let ifaAddress: UInt16 = 1, ifaLocal: UInt16 = 2
    static let groupLink: UInt32 = 1

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// Every message in one datagram from the kernel.
    static func parse(_ bytes: [UInt8]) throws(Malformed) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = 0
        while bytes.count - offset >= headerSize {
            var header = ByteReader(bytes[offset...])
            guard let length = try? header.u32(bigEndian: false), let type = try? header.u16(bigEndian: false) else {
                throw Malformed(description: "netlink header cut short")
            }
            guard length >= UInt32(headerSize), Int(length) <= bytes.count - offset else {
                throw Malformed(description: "netlink message of length \(length) at \(offset) in \(bytes.count) bytes")
            }
            let body = bytes[(offset + headerSize)..<(offset + Int(length))]
            messages.append(try message(type: type, body: body))
            offset += align(Int(length))
        }
        guard offset >= bytes.count else { throw Malformed(description: "\(bytes.count - offset) trailing bytes after the last message") }
        return messages
    }

    private static func message(type: UInt16, body: ArraySlice<UInt8>) throws(Malformed) -> NetlinkMessage {
        var reader = ByteReader(body)
        switch type {
        case typeDone: return .done
        case typeOverrun: return .overrun
        case typeError:
            guard let code = try? reader.u32(bigEndian: false) else { throw Malformed(description: "netlink error cut short") }
            return .error(code: -Int32(bitPattern: code))
        case newLink, delLink:
            // struct ifinfomsg: family, pad, type (u16), index (i32), flags (u32), change (u32).
            guard (try? reader.skip(4)) != nil, let index = try? reader.u32(bigEndian: false),
                  let flags = try? reader.u32(bigEndian: false),
                  (try? reader.skip(4)) != nil else { throw Malformed(description: "ifinfomsg cut short") }
            var name: String?
            var operState = LinkState.OperState.unknown
            for (kind, value) in try attributes(body.suffix(from: reader.offset)) {
                switch kind {
                case iflaName: name = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
                case iflaOperState: operState = value.first.flatMap(LinkState.OperState.init(rawValue:)) ?? .unknown
                default: break
                }
            }
            guard let name else { throw Malformed(description: "link \(index) without a name") }
            let link = LinkState(index: Int32(bitPattern: index), name: name, adminUp: flags & iffUp != 0,
                                 carrier: flags & iffLowerUp != 0, operState: operState)
            return .link(link, removed: type == delLink)
        case newAddress, delAddress:
            // struct ifaddrmsg: family, prefix length, flags, scope, index (u32).
            guard let family = try? reader.u8(), let prefix = try? reader.u8(), (try? reader.skip(2)) != nil,
                  let index = try? reader.u32(bigEndian: false) else { throw Malformed(description: "ifaddrmsg cut short") }
            guard family == UInt8(AF_INET) else { return .other(type: type) }
            var local: String?, peer: String?
            for (kind, value) in try attributes(body.suffix(from: reader.offset)) where value.count == 4 {
                let text = value.map(String.init).joined(separator: ".")
                if kind == ifaLocal { local = text } else if kind == ifaAddress { peer = text }
            }
            guard let address = local ?? peer else { return .other(type: type) }
            return .address(InterfaceAddress(index: Int32(bitPattern: index), address: address, prefixLength: prefix),
                            removed: type == delAddress)
        default:
            return .other(type: type)
        }
    }

    /// rtattr list: length (u16, header included), type (u16), value, padded to 4 bytes.
    static func attributes(_ bytes: ArraySlice<UInt8>) throws(Malformed) -> [(UInt16, ArraySlice<UInt8>)] {
        var found: [(UInt16, ArraySlice<UInt8>)] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            var reader = ByteReader(bytes[offset...])
            guard let length = try? reader.u16(bigEndian: false), let type = try? reader.u16(bigEndian: false) else { break }
            guard length >= 4, Int(length) <= bytes.endIndex - offset else {
                throw Malformed(description: "attribute of length \(length) with \(bytes.endIndex - offset) bytes left")
            }
            // NLA_F_NESTED and NLA_F_NET_BYTEORDER ride in the type's top bits.
            found.append((type & 0x3FFF, bytes[(offset + 4)..<(offset + Int(length))]))
            offset += align(Int(length))
        }
        return found
    }

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }

    /// A dump request: every link (RTM_GETLINK) or every IPv4 address (RTM_GETADDR).
    static func dumpRequest(_ type: UInt16, sequence: UInt32) -> [UInt8] {
        let body: [UInt8] = type == getAddress ? [UInt8(AF_INET)] + [UInt8](repeating: 0, count: 7) : [UInt8](repeating: 0, count: 16)
        var writer = ByteWriter()
        writer.u32(UInt32(headerSize + body.count), bigEndian: false)
        writer.u16(type, bigEndian: false)
        writer.u16(flagRequest | flagDump, bigEndian: false)
        writer.u32(sequence, bigEndian: false)
        writer.u32(0, bigEndian: false)
        writer.append(body)
        return writer.bytes
    }
}
