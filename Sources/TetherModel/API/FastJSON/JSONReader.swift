/// Reads the hot path's messages (`FastJSON`) straight from bytes. Strict, and small on purpose:
/// objects, strings, integers, booleans, null and arrays of strings, each key once. Whatever
/// else it meets (a number with a fraction, an unknown or repeated key, a lone surrogate, bytes
/// that are not UTF-8, anything after the value) makes it answer nil, and the caller decodes
/// with Foundation's decoder instead, which takes it or says exactly what is wrong. So it never
/// reads a message differently from that decoder; it only reads the common ones faster.
public struct JSONReader: ~Copyable {
    private let bytes: UnsafeRawBufferPointer
    private var at = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Nothing but white space is left.
    public mutating func atEnd() -> Bool {
        skipSpace()
        return at == bytes.count
    }

    /// Reads an object, calling `field` with each key (the reader on its value), which must
    /// read the value and answer true, or answer false to give up. Repeated keys give up.
    public mutating func object(_ field: (inout JSONReader, String) -> Bool) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        var seen: Set<String> = []
        if take(UInt8(ascii: "}")) { return true }
        repeat {
            guard let key = string(), seen.insert(key).inserted, take(UInt8(ascii: ":")), field(&self, key) else { return false }
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}"))
    }

    /// `null`, read: for an optional value.
    public mutating func null() -> Bool {
        literal("null")
    }

    public mutating func bool() -> Bool? {
        if literal("true") { return true }
        if literal("false") { return false }
        return nil
    }

    /// An integer as JSON writes it (`-?(0|[1-9][0-9]*)`), within Int's range.
    public mutating func int() -> Int? {
        skipSpace()
        var i = at
        let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let first = i
        var value = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let digit = Int(bytes[i] - UInt8(ascii: "0"))
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = sum
            i += 1
        }
        guard i > first, !(bytes[first] == UInt8(ascii: "0") && i - first > 1) else { return nil }
        // A fraction or an exponent: Foundation's to judge.
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] | 0x20 == UInt8(ascii: "e") { return nil }
        at = i
        return value
    }

    public mutating func strings() -> [String]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var values: [String] = []
        if take(UInt8(ascii: "]")) { return values }
        repeat {
            guard let value = string() else { return nil }
            values.append(value)
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "]")) ? values : nil
    }

    public mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        var utf8: [UInt8] = []
        var start = at
        var ascii = true
        while at < bytes.count {
            let byte = bytes[at]
            if byte == UInt8(ascii: "\"") {
                let end = at
                at += 1
                // Most strings (names, ids) are ASCII with no escape: made straight from the
                // bytes, without a copy or the generic validation, which looked up type
                // metadata on every string and was a percent of a client's dry-run attach.
                if ascii && utf8.isEmpty { return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) }
                utf8.append(contentsOf: bytes[start..<end])
                return String(validating: utf8, as: UTF8.self)
            }
            if byte < 0x20 { return nil }
            if byte >= 0x80 { ascii = false }
            if byte == UInt8(ascii: "\\") {
                utf8.append(contentsOf: bytes[start..<at])
                at += 1
                guard unescape(into: &utf8) else { return nil }
                start = at
                continue
            }
            at += 1
        }
        return nil
    }

    // MARK: the rest

    private mutating func unescape(into utf8: inout [UInt8]) -> Bool {
        guard at < bytes.count else { return false }
        let byte = bytes[at]
        at += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            guard var scalar = hex4() else { return false }
            if (0xD800...0xDBFF).contains(scalar) {
                // A pair's second half must follow at once.
                guard take(exactly: [UInt8(ascii: "\\"), UInt8(ascii: "u")]), let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return false }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                return false
            }
            guard let unicode = Unicode.Scalar(scalar) else { return false }
            utf8.append(contentsOf: String(Character(unicode)).utf8)
        default: return false
        }
        return true
    }

    private mutating func hex4() -> UInt32? {
        guard at + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[at]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            at += 1
        }
        return value
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        skipSpace()
        let length = word.utf8CodeUnitCount
        guard at + length <= bytes.count else { return false }
        let matches = word.withUTF8Buffer { expected in (0..<length).allSatisfy { bytes[at + $0] == expected[$0] } }
        // `nullx` is no literal.
        guard matches, at + length == bytes.count || !Self.isLetter(bytes[at + length]) else { return false }
        at += length
        return true
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// The next non-space byte, taken if it is `byte`.
    private mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    /// These bytes, next, with no space before or between them.
    private mutating func take(exactly expected: [UInt8]) -> Bool {
        guard at + expected.count <= bytes.count, expected.indices.allSatisfy({ bytes[at + $0] == expected[$0] }) else { return false }
        at += expected.count
        return true
    }

    private mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0A, 0x0D: at += 1
            default: return
            }
        }
    }
}
