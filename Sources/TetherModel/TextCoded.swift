/// A value written as text in JSON and YAML (`HOST:PORT`, `HOST/PORT`, a device selector):
/// decoded through its own parser, so that a bad one is a decoding error naming the field and
/// saying what was expected; encoded as its description.
public protocol TextCoded: Codable, CustomStringConvertible {
    /// Parses `text`; the error's message says what `text` should have been.
    init(text: String) throws(TetherError)
}

extension TextCoded {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Self(text: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
