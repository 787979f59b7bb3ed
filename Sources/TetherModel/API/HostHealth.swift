import Foundation

/// The state of one network or one IO path, as shared/spec/ha.md defines them: a network is `up`
/// when its link is up and peers answer on it, `partial` when only some peers answer, `down` when
/// neither the link nor any peer answers; a path is `up` while IO through it succeeds.
public enum HealthState: String, Sendable, Equatable, Codable, CaseIterable {
    case up, partial, down
    /// Nothing measured yet (just started), or nobody who could measure it is heard.
    case unknown
}

/// What one host's failure detector says about a peer on one network.
public enum PeerState: String, Sendable, Equatable, Codable, CaseIterable {
    case alive, suspect, dead
}

/// One network as its host measures it: the kernel's link state and the peers' answers.
public struct NetworkReport: Sendable, Equatable, Codable {
    public var state: HealthState
    /// The host's address on it.
    public var address: String?
    /// The kernel's word on the link that carries the address (nil: not known).
    public var link: Bool?
    /// Each peer's state on this network, as this host's detector sees it.
    public var peers: [String: PeerState]
    /// When `state` last changed.
    public var since: Date?

    public init(state: HealthState, address: String? = nil, link: Bool? = nil, peers: [String: PeerState] = [:], since: Date? = nil) {
        self.state = state
        self.address = address
        self.link = link
        self.peers = peers
        self.since = since
    }
}

/// One IO path to a datastore, as its host measures it (heartbeat-record writes through it).
public struct PathReport: Sendable, Equatable, Codable {
    public var uri: String
    public var state: HealthState
    public var since: Date?
    /// The last IO through it that succeeded.
    public var lastSuccess: Date?

    public init(uri: String, state: HealthState, since: Date? = nil, lastSuccess: Date? = nil) {
        self.uri = uri
        self.state = state
        self.since = since
        self.lastSuccess = lastSuccess
    }
}

/// A datastore as one host reaches it: each path's state, and whose heartbeat records this host
/// sees advancing on it (the datastore heartbeat of vSphere HA: a host silent on every network
/// whose records still advance is isolated, not dead).
public struct DatastoreReport: Sendable, Equatable, Codable {
    public var name: String
    public var paths: [PathReport]
    /// Per peer: true while its records advance, false once they stopped.
    public var peers: [String: Bool]

    public init(name: String, paths: [PathReport], peers: [String: Bool] = [:]) {
        self.name = name
        self.paths = paths
        self.peers = peers
    }

    /// Reachable through at least one path.
    public var reachable: Bool { paths.contains { $0.state == .up } }
}

/// What an agent sends with each heartbeat: its own networks and datastore paths, and what it
/// sees of its peers; the controller combines every host's report into its verdicts.
public struct HostHealthReport: Sendable, Equatable, Codable {
    /// When the agent measured it (its own clock).
    public var at: Date
    public var networks: [NetworkRole: NetworkReport]
    public var datastores: [DatastoreReport]

    public init(at: Date, networks: [NetworkRole: NetworkReport], datastores: [DatastoreReport]) {
        self.at = at
        self.networks = networks
        self.datastores = datastores
    }
}

extension HealthState {
    /// A state as a gauge's number: 1 up, 0.5 partial, 0 down, -1 unknown.
    public var gaugeValue: Double {
        switch self {
        case .up: 1
        case .partial: 0.5
        case .down: 0
        case .unknown: -1
        }
    }
}
