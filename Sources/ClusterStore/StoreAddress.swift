import TetherModel

/// Where a controller keeps its state, as the configuration and `tether store migrate` write it:
/// a path (or `sqlite:PATH`) is the embedded SQLite store; `etcd://HOST:PORT[,HOST:PORT...]` is
/// an etcd cluster, any of whose members will do.
public enum StoreAddress: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case etcd(endpoints: [HostPort])

    public init(_ text: String) throws(TetherError) {
        if text.hasPrefix("etcd://") {
            let list = text.dropFirst("etcd://".count).split(separator: ",", omittingEmptySubsequences: false)
            var endpoints: [HostPort] = []
            for item in list {
                guard let endpoint = HostPort(String(item.trimmingSuffix("/"))) else {
                    throw TetherError(.invalidArgument, "'\(item)' in store '\(text)' is not HOST:PORT; write etcd://HOST:PORT,HOST:PORT,...")
                }
                endpoints.append(endpoint)
            }
            self = .etcd(endpoints: endpoints)
        } else if text.contains("://") {
            throw TetherError(.invalidArgument, "store '\(text)': a path (SQLite) or etcd://HOST:PORT,... is expected")
        } else {
            let path = text.hasPrefix("sqlite:") ? String(text.dropFirst("sqlite:".count)) : text
            guard !path.isEmpty else { throw TetherError(.invalidArgument, "store '\(text)' names no file") }
            self = .sqlite(path: path)
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .etcd(let endpoints): "etcd://" + endpoints.map(\.description).joined(separator: ",")
        }
    }
}

private extension Substring {
    func trimmingSuffix(_ suffix: String) -> Substring { hasSuffix(suffix) ? dropLast(suffix.count) : self }
}
