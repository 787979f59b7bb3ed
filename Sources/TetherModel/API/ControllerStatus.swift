import Foundation

/// One controller of a cluster, as `tether status` lists them: its name, whether it leads, and
/// where its API is. Several controllers share an etcd store and elect one leader; the embedded
/// SQLite store has one controller, which leads.
public struct ControllerStatus: Sendable, Equatable, Codable {
    public var name: String
    public var leader: Bool
    /// Its mutual-TLS API (agents, remote operators, standbys forwarding); nil: local only.
    public var address: HostPort?
    /// Its local API socket.
    public var socket: String?
    /// Since when it has been in the cluster (a standby), or has led (the leader).
    public var since: Date?

    public init(name: String, leader: Bool, address: HostPort? = nil, socket: String? = nil, since: Date? = nil) {
        self.name = name
        self.leader = leader
        self.address = address
        self.socket = socket
        self.since = since
    }
}
