import TetherModel

/// The parts of the NBD protocol (github.com/NetworkBlockDevice/nbd, doc/proto.md) this client
/// speaks: the fixed newstyle handshake with NBD_OPT_GO, and simple replies to READ, WRITE,
/// FLUSH and DISCONNECT. Pure: bytes in, values or a protocol error out.
enum NBDProtocol {
    static let nbdMagic: UInt64 = 0x4E42_444D_4147_4943 // "NBDMAGIC"
    static let optionMagic: UInt64 = 0x4948_4156_454F_5054 // "IHAVEOPT"
    static let optionReplyMagic: UInt64 = 0x0003_E889_0455_65A9
    static let requestMagic: UInt32 = 0x2560_9513
    static let simpleReplyMagic: UInt32 = 0x6744_6698

    static let flagFixedNewstyle: UInt16 = 1
    static let flagNoZeroes: UInt16 = 2
    static let optionGo: UInt32 = 7
    static let replyAck: UInt32 = 1
    static let replyInfo: UInt32 = 3
    static let infoExport: UInt16 = 0
    static let replyErrorBit: UInt32 = 1 << 31
    static let replyErrorUnknown: UInt32 = replyErrorBit | 6

    /// Transmission flags the server sends with the export's size.
    struct TransmissionFlags: OptionSet, Sendable {
        let rawValue: UInt16
        static let hasFlags = TransmissionFlags(rawValue: 1)
        static let readOnly = TransmissionFlags(rawValue: 2)
        static let sendFlush = TransmissionFlags(rawValue: 4)
        static let sendFUA = TransmissionFlags(rawValue: 8)
    }

    enum Command: UInt16 {
        case read = 0
        case write = 1
        case disconnect = 2
        case flush = 3
    }

    static let commandFlagFUA: UInt16 = 1

    /// The server's first 18 bytes: both magics and its handshake flags.
    static func parseGreeting(_ bytes: [UInt8]) throws(TetherError) -> UInt16 {
        var reader = ByteReader(bytes)
        guard let magic = try? reader.u64(), let option = try? reader.u64(), let flags = try? reader.u16() else {
            throw violation("the server's greeting is short")
        }
        guard magic == nbdMagic, option == optionMagic else {
            throw violation("the server's greeting has bad magic \(hex(magic)) \(hex(option)): not a newstyle NBD server")
        }
        guard flags & flagFixedNewstyle != 0 else { throw violation("the server does not offer the fixed newstyle handshake") }
        return flags
    }

    /// NBD_OPT_GO for `export`, asking for no particular information (the export's size and flags
    /// come anyway).
    static func goOption(export: String) -> [UInt8] {
        let name = Array(export.utf8)
        var writer = ByteWriter()
        writer.u64(optionMagic)
        writer.u32(optionGo)
        writer.u32(UInt32(4 + name.count + 2))
        writer.u32(UInt32(name.count))
        writer.append(name)
        writer.u16(0)
        return writer.bytes
    }

    /// The fixed 20-byte header of an option reply: the option, the reply type and the length of
    /// what follows.
    static func parseOptionReplyHeader(_ bytes: [UInt8]) throws(TetherError) -> (option: UInt32, type: UInt32, length: UInt32) {
        var reader = ByteReader(bytes)
        guard let magic = try? reader.u64(), let option = try? reader.u32(), let type = try? reader.u32(),
              let length = try? reader.u32() else { throw violation("short option reply header") }
        guard magic == optionReplyMagic else { throw violation("option reply with bad magic \(hex(magic))") }
        return (option, type, length)
    }

    /// NBD_INFO_EXPORT's payload: the export's size and transmission flags (nil for other infos).
    static func parseExportInfo(_ bytes: [UInt8]) -> (size: UInt64, flags: TransmissionFlags)? {
        var reader = ByteReader(bytes)
        guard let type = try? reader.u16(), type == infoExport, let size = try? reader.u64(), let flags = try? reader.u16() else {
            return nil
        }
        return (size, TransmissionFlags(rawValue: flags))
    }

    static func request(_ command: Command, flags: UInt16 = 0, cookie: UInt64, offset: UInt64, length: UInt32) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(requestMagic)
        writer.u16(flags)
        writer.u16(command.rawValue)
        writer.u64(cookie)
        writer.u64(offset)
        writer.u32(length)
        return writer.bytes
    }

    /// A simple reply's 16-byte header: the error (0: none) and the request's cookie.
    static func parseSimpleReply(_ bytes: [UInt8]) throws(TetherError) -> (error: UInt32, cookie: UInt64) {
        var reader = ByteReader(bytes)
        guard let magic = try? reader.u32(), let error = try? reader.u32(), let cookie = try? reader.u64() else {
            throw violation("short reply header")
        }
        guard magic == simpleReplyMagic else {
            throw violation("reply with bad magic \(hex(UInt64(magic))) (structured replies were not asked for)")
        }
        return (error, cookie)
    }

    static func optionErrorMessage(_ type: UInt32, export: String) -> TetherError {
        switch type {
        case replyErrorUnknown: TetherError(.notFound, "the NBD server has no export named '\(export)'")
        case replyErrorBit | 2: TetherError(.permissionDenied, "the NBD server refused export '\(export)' by policy")
        case replyErrorBit | 5: TetherError(.unsupported, "the NBD server requires TLS for export '\(export)'")
        case replyErrorBit | 7: TetherError(.io, "the NBD server is shutting down")
        default: TetherError(.io, "the NBD server refused export '\(export)' (option reply \(hex(UInt64(type))))")
        }
    }

    static func violation(_ message: String) -> TetherError {
        TetherError(.io, "NBD protocol violation: \(message)")
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
