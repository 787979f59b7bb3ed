/// `HOST:PORT`, with `[v6]:PORT` for IPv6. Port 0 (any free port) is allowed where one listens.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension HostPort: TextCoded {
    public init(text: String) throws(TetherError) {
        guard let value = HostPort(text) else { throw TetherError(.invalidArgument, "'\(text)' is not HOST:PORT") }
        self = value
    }
}
