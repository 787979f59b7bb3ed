import TetherModel

/// Builds a wire message field by field (NBD and the membership codec are big-endian; netlink
/// and the heartbeat record are little-endian).
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16, bigEndian: Bool = true) { integer(value, bigEndian: bigEndian) }
    mutating func u32(_ value: UInt32, bigEndian: Bool = true) { integer(value, bigEndian: bigEndian) }
    mutating func u64(_ value: UInt64, bigEndian: Bool = true) { integer(value, bigEndian: bigEndian) }
    mutating func append(_ data: some Sequence<UInt8>) { bytes.append(contentsOf: data) }

    private mutating func integer<T: FixedWidthInteger>(_ value: T, bigEndian: Bool) {
        let ordered = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: ordered) { bytes.append(contentsOf: $0) }
    }
}

/// Reads a wire message field by field; running past the end is an error (`truncated`), never
/// a crash: every reader of bytes from the network or the kernel goes through it.
struct ByteReader {
    struct Truncated: Error {}

    let bytes: ArraySlice<UInt8>
    private(set) var offset: Int

    init(_ bytes: [UInt8]) {
        self.init(bytes[...])
    }

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - offset }
    var isAtEnd: Bool { offset >= bytes.endIndex }

    mutating func u8() throws(Truncated) -> UInt8 {
        let field = try take(1)
        return field[field.startIndex]
    }
    mutating func u16(bigEndian: Bool = true) throws(Truncated) -> UInt16 { try integer(bigEndian: bigEndian) }
    mutating func u32(bigEndian: Bool = true) throws(Truncated) -> UInt32 { try integer(bigEndian: bigEndian) }
    mutating func u64(bigEndian: Bool = true) throws(Truncated) -> UInt64 { try integer(bigEndian: bigEndian) }

    mutating func take(_ count: Int) throws(Truncated) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw Truncated() }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func skip(_ count: Int) throws(Truncated) { _ = try take(count) }

    private mutating func integer<T: FixedWidthInteger>(bigEndian: Bool) throws(Truncated) -> T {
        let field = try take(MemoryLayout<T>.size)
        var value: T = 0
        for byte in field { value = value << 8 | T(byte) }
        // Assembled most significant byte first; a little-endian field is the same bytes reversed.
        return bigEndian ? value : value.byteSwapped
    }
}

/// CRC-32 (IEEE 802.3, the zlib one), for the heartbeat record: a torn or stale sector must not
/// be read as a heartbeat.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
