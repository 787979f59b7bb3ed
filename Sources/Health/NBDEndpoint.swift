import TetherModel

/// Where an NBD export is: `nbd://HOST:PORT/EXPORT` (the spec's datastore path URIs; port 10809
/// when left out, the export given per use when the URI has none).
public struct NBDEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var export: String

    public static let defaultPort: UInt16 = 10809

    public init(host: String, port: UInt16 = NBDEndpoint.defaultPort, export: String) {
        self.host = host
        self.port = port
        self.export = export
    }

    /// Parses `nbd://HOST[:PORT][/EXPORT]`; `export` stands in when the URI names none (a
    /// datastore path's URI names the server, and each use names its export).
    public init(uri: String, export fallback: String = "") throws(TetherError) {
        let prefix = "nbd://"
        guard uri.hasPrefix(prefix) else { throw TetherError(.invalidArgument, "'\(uri)' is not an nbd://HOST:PORT/EXPORT URI") }
        let rest = uri.dropFirst(prefix.count)
        let authority = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let hostPort = String(authority.first ?? "")
        let export = authority.count > 1 ? String(authority[1]) : ""
        if let parsed = HostPort(hostPort) {
            guard let port = UInt16(exactly: parsed.port), port > 0 else {
                throw TetherError(.invalidArgument, "'\(uri)' has no valid port")
            }
            host = parsed.host
            self.port = port
        } else {
            guard !hostPort.isEmpty, !hostPort.contains(":") else {
                throw TetherError(.invalidArgument, "'\(uri)' has no valid HOST:PORT")
            }
            host = hostPort
            port = Self.defaultPort
        }
        self.export = export.isEmpty ? fallback : export
    }

    /// The same server, another export (the heartbeat export of a datastore path).
    public func with(export: String) -> NBDEndpoint { NBDEndpoint(host: host, port: port, export: export) }

    public var description: String { "nbd://\(host):\(port)/\(export)" }
}
