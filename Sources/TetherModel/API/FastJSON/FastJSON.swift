import Foundation

/// A message of the API's hot path (an attach's request and answer, asked by every hook and
/// every dry run), read and written without Foundation's coders, whose boxed trees were a fifth
/// of the controller's CPU on dry-run attaches. Only the common shapes are read here; anything
/// else is left to Foundation's decoder (nil), so the API takes and refuses exactly what it did.
public protocol FastJSONDecodable: Decodable {
    /// The value, or nil to leave the bytes to Foundation's decoder.
    static func fastDecoded(from reader: inout JSONReader) -> Self?
}

public protocol FastJSONEncodable: Encodable {
    /// The JSON, or nil to leave the value to Foundation's encoder.
    func fastEncoded() -> [UInt8]?
}

extension APIJSON {
    /// Reads a message as `decoder()` would: the hot path's by hand when they have the common
    /// shape, everything else (and every error) through Foundation. Inlinable, so that a caller
    /// that knows the type decides at compile time whether it is read by hand: asked at run
    /// time, the cast looked up the protocol's conformance on every message.
    @inlinable
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        if let fast = type as? any FastJSONDecodable.Type, let value = fastDecode(fast, bytes) as? T { return value }
        return try decoder().decode(type, from: Data(bytes))
    }

    /// Writes a message as `encoder()` would (keys sorted): the hot path's by hand. Inlinable
    /// for the same reason as `decode`.
    @inlinable
    public static func encode(_ value: some Encodable) throws -> Data {
        if let fast = value as? any FastJSONEncodable, let bytes = fast.fastEncoded() { return Data(bytes) }
        return try encoder().encode(value)
    }

    @usableFromInline
    static func fastDecode<T: FastJSONDecodable>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer) -> T? {
        var reader = JSONReader(bytes)
        guard let value = T.fastDecoded(from: &reader), reader.atEnd() else { return nil }
        return value
    }
}
