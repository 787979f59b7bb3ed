/// A strict reader of the runtime's state (RFC 8259 JSON), just enough to decide that nothing is
/// asked: ociVersion, id, status and bundle are strings, pid a number if present, annotations
/// an object of strings if present. Returns nil for anything else, which the full hook reports.
struct StateReader {
    struct State {
        var asksForDevices: Bool
    }

    private indirect enum Value {
        case object([(String, Value)])
        case array([Value])
        case string(String)
        case number
        case bool
        case null
    }

    private let bytes: [UInt8]
    private var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func state() -> State? {
        guard let root = value(), atEnd(), case .object(let fields) = root else { return nil }
        func field(_ name: String) -> Value? { fields.last { $0.0 == name }?.1 }
        for name in ["ociVersion", "id", "status", "bundle"] {
            guard case .string = field(name) else { return nil }
        }
        if let pid = field("pid") {
            guard case .number = pid else { return nil }
        }
        var asks = false
        if let annotations = field("annotations") {
            guard case .object(let entries) = annotations else { return nil }
            for (key, value) in entries {
                guard case .string(let text) = value else { return nil }
                if key == "tether.io/devices" && text.contains(where: { $0 != " " }) { asks = true }
            }
        }
        return State(asksForDevices: asks)
    }

    private mutating func atEnd() -> Bool {
        skipSpace()
        return i == bytes.count
    }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value() -> Value? {
        skipSpace()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var fields: [(String, Value)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
            while true {
                skipSpace()
                guard let key = string(), expect(":"), let item = value() else { return nil }
                fields.append((key, item))
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
                return nil
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [Value] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                guard let item = value() else { return nil }
                items.append(item)
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                return nil
            }
        case UInt8(ascii: "\""):
            return string().map(Value.string)
        case UInt8(ascii: "t"): return literal("true") ? .bool : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        default:
            return number() ? .number : nil
        }
    }

    private mutating func expect(_ character: Character) -> Bool {
        skipSpace()
        guard i < bytes.count, bytes[i] == character.asciiValue else { return false }
        i += 1
        return true
    }

    private mutating func literal(_ word: String) -> Bool {
        let utf8 = Array(word.utf8)
        guard i + utf8.count <= bytes.count, Array(bytes[i..<i + utf8.count]) == utf8 else { return false }
        i += utf8.count
        return true
    }

    private mutating func number() -> Bool {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        guard i > digitsStart else { return false }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fraction = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            guard i > fraction else { return false }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let exponent = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            guard i > exponent else { return false }
        }
        return i > start
    }

    /// A string at `i` (its opening quote), escapes decoded.
    private mutating func string() -> String? {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll()
        }
        while i < bytes.count {
            let byte = bytes[i]
            i += 1
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                guard i < bytes.count else { return nil }
                let escape = bytes[i]
                i += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): raw.append(escape)
                case UInt8(ascii: "b"): raw.append(0x08)
                case UInt8(ascii: "f"): raw.append(0x0C)
                case UInt8(ascii: "n"): raw.append(0x0A)
                case UInt8(ascii: "r"): raw.append(0x0D)
                case UInt8(ascii: "t"): raw.append(0x09)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else { return nil }
                    i += 4
                    flush()
                    // A surrogate pair never forms a tether key; keep a replacement for it.
                    scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                default: return nil
                }
            case 0x00..<0x20:
                return nil   // control characters must be escaped
            default:
                raw.append(byte)
            }
        }
        return nil
    }
}
