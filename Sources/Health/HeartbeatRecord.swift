import Foundation
import TetherModel

/// Who writes a heartbeat slot: one host through one of its paths to a datastore.
public struct HeartbeatWriter: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var host: String
    /// The path's index in the host's configuration of the datastore (0 for its first URI).
    public var path: Int

    public init(host: String, path: Int) {
        self.host = host
        self.path = path
    }

    public static func < (lhs: HeartbeatWriter, rhs: HeartbeatWriter) -> Bool { (lhs.host, lhs.path) < (rhs.host, rhs.path) }
    public var description: String { "\(host)/path\(path)" }
}

/// One heartbeat, as one 512-byte sector of a datastore's `tether-heartbeats` export. Layout
/// (little-endian):
///
/// | bytes   | field                                                    |
/// |---------|----------------------------------------------------------|
/// | 0..<8   | magic `TTHBEAT1`                                          |
/// | 8..<10  | path index                                               |
/// | 10..<12 | host name length N (1...255)                             |
/// | 12..<16 | reserved, zero                                           |
/// | 16..<24 | sequence: grows by one every write, across restarts      |
/// | 24..<32 | the writer's wall-clock time, ms since 1970 (for people) |
/// | 32..<32+N | host name, UTF-8                                       |
/// | 508..<512 | CRC-32 of bytes 0..<508                                |
///
/// The CRC makes a torn, zeroed or foreign sector read as no record at all. Readers judge
/// liveness from the sequence moving under their own clock, never from the writer's time (clocks
/// drift; the time is there for `tether status` and for people reading a dump).
public struct HeartbeatRecord: Sendable, Equatable {
    public var writer: HeartbeatWriter
    public var sequence: UInt64
    public var time: Date

    public static let size = 512
    static let magic = Array("TTHBEAT1".utf8)
    static let maximumNameLength = 255

    public init(writer: HeartbeatWriter, sequence: UInt64, time: Date) {
        self.writer = writer
        self.sequence = sequence
        self.time = time
    }

    public func encoded() throws(TetherError) -> [UInt8] {
        let name = Array(writer.host.utf8)
        guard (1...Self.maximumNameLength).contains(name.count) else {
            throw TetherError(.invalidArgument, "a host name for a heartbeat must be 1 to 255 bytes, not \(name.count)")
        }
        guard let path = UInt16(exactly: writer.path) else {
            throw TetherError(.invalidArgument, "path index \(writer.path) out of range")
        }
        var out = ByteWriter()
        out.append(Self.magic)
        out.u16(path, bigEndian: false)
        out.u16(UInt16(name.count), bigEndian: false)
        out.u32(0, bigEndian: false)
        out.u64(sequence, bigEndian: false)
        out.u64(UInt64(bitPattern: Int64((time.timeIntervalSince1970 * 1000).rounded())), bigEndian: false)
        out.append(name)
        out.append(repeatElement(0, count: Self.size - 4 - out.bytes.count))
        out.u32(CRC32.checksum(out.bytes), bigEndian: false)
        return out.bytes
    }

    /// The record in a sector, or nil when the sector holds none (empty, torn, foreign).
    public static func decode(_ sector: ArraySlice<UInt8>) -> HeartbeatRecord? {
        guard sector.count == size else { return nil }
        var reader = ByteReader(sector)
        guard let magic = try? reader.take(8), magic.elementsEqual(Self.magic),
              let path = try? reader.u16(bigEndian: false), let length = try? reader.u16(bigEndian: false),
              (1...maximumNameLength).contains(Int(length)), (try? reader.skip(4)) != nil,
              let sequence = try? reader.u64(bigEndian: false), let millis = try? reader.u64(bigEndian: false),
              let name = try? reader.take(Int(length)), let host = String(validating: name, as: UTF8.self) else { return nil }
        let body = sector.prefix(size - 4)
        var tail = ByteReader(sector.suffix(4))
        guard let crc = try? tail.u32(bigEndian: false), crc == CRC32.checksum(body) else { return nil }
        let time = Date(timeIntervalSince1970: Double(Int64(bitPattern: millis)) / 1000)
        return HeartbeatRecord(writer: HeartbeatWriter(host: host, path: Int(path)), sequence: sequence, time: time)
    }
}
