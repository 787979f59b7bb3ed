import Foundation

/// `GET /v1/status`: the cluster as the controller sees it now (shared/spec/ha.md, "What
/// operators see": `hosts` with their networks and datastore paths, `vms`, `operations`).
public struct ClusterStatus: Sendable, Equatable, Codable {
    public var hosts: [HostStatus]
    /// Every VM with the host that runs it now and its state.
    public var vms: [VMStatus]
    public var attachments: [DeviceAttachment]
    /// Operations not yet finished.
    public var operations: [OperationRecord]
    /// The cluster's controllers, the leader among them (one, the leader, on SQLite).
    public var controllers: [ControllerStatus]
    /// Where the controllers keep their state: a path (SQLite) or `etcd://HOST:PORT,...`.
    public var store: String?
    /// Every registered device's declared and observed figures (only the leader has them).
    public var devices: [DeviceFigures]

    public init(hosts: [HostStatus], vms: [VMStatus] = [], attachments: [DeviceAttachment], operations: [OperationRecord],
                controllers: [ControllerStatus] = [], store: String? = nil, devices: [DeviceFigures] = []) {
        self.devices = devices
        self.hosts = hosts
        self.vms = vms
        self.attachments = attachments
        self.operations = operations
        self.controllers = controllers
        self.store = store
    }

    enum CodingKeys: String, CodingKey { case hosts, vms, attachments, operations, controllers, store, devices }

    /// Answers of controllers from before there were several decode too (no controllers).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hosts = try c.decode([HostStatus].self, forKey: .hosts)
        vms = try c.decodeIfPresent([VMStatus].self, forKey: .vms) ?? []
        attachments = try c.decode([DeviceAttachment].self, forKey: .attachments)
        operations = try c.decode([OperationRecord].self, forKey: .operations)
        controllers = try c.decodeIfPresent([ControllerStatus].self, forKey: .controllers) ?? []
        store = try c.decodeIfPresent(String.self, forKey: .store)
        devices = try c.decodeIfPresent([DeviceFigures].self, forKey: .devices) ?? []
    }
}

public struct HostStatus: Sendable, Equatable, Codable {
    public var name: String
    public var registration: AgentRegistration
    /// False once the host is judged dead or its agent gone (`condition` says which and why).
    public var up: Bool
    public var lastHeartbeat: Date?
    /// The controller's verdict on the host, from its own and its peers' reports.
    public var condition: HostCondition
    /// Each network's state: the host's own measure while it is heard, else its peers'.
    public var networks: [NetworkRole: NetworkReport]
    /// Each datastore with each of the host's paths to it.
    public var datastores: [DatastoreReport]

    public init(registration: AgentRegistration, up: Bool, lastHeartbeat: Date?, condition: HostCondition = HostCondition(.healthy),
                networks: [NetworkRole: NetworkReport] = [:], datastores: [DatastoreReport] = []) {
        self.name = registration.host
        self.registration = registration
        self.up = up
        self.lastHeartbeat = lastHeartbeat
        self.condition = condition
        self.networks = networks
        self.datastores = datastores
    }
}

/// What the controller concludes about a host, telling apart the faults of shared/spec/ha.md.
public enum HostVerdict: String, Sendable, Equatable, Codable, CaseIterable {
    /// Heard, every network up, every datastore reachable.
    case healthy
    /// Heard, but a network is down or partial, or a path is down (a datastore still reachable).
    case degraded
    /// Heard on management, but a datastore it uses is reachable through none of its paths, or
    /// its heartbeat records stopped advancing.
    case storageLost = "storage-lost"
    /// Not heard by the controller, but alive on another network or on a datastore.
    case managementLost = "management-lost"
    /// Silent everywhere, but its kernel answers on the management address: the agent is gone,
    /// the host and its VMs may well be running.
    case agentDown = "agent-down"
    /// Silent everywhere, not yet for the dead time.
    case silent
    /// Silent on every network and datastore for the dead time.
    case dead
}

public struct HostCondition: Sendable, Equatable, Codable {
    public var verdict: HostVerdict
    /// The evidence, in words.
    public var reasons: [String]
    /// Since when this verdict holds (as the controller first saw it).
    public var since: Date?

    public init(_ verdict: HostVerdict, reasons: [String] = [], since: Date? = nil) {
        self.verdict = verdict
        self.reasons = reasons
        self.since = since
    }
}

/// A VM as operators see it: where it runs now and in what state.
public struct VMStatus: Sendable, Equatable, Codable {
    public var name: String
    public var host: String
    /// `running`, `paused`, `suspended`, `io-error`, `crashed`, `migrating`, `restarting`, or QEMU's word.
    public var state: String
    /// The VM's operator QMP socket on the host that runs it.
    public var monitor: String?

    public init(name: String, host: String, state: String, monitor: String? = nil) {
        self.name = name
        self.host = host
        self.state = state
        self.monitor = monitor
    }
}

/// `POST /v1/agents/{host}/heartbeat`.
public struct Heartbeat: Sendable, Equatable, Codable {
    /// The host's networks as the agent sees them now; nil: unchanged.
    public var networks: [NetworkRole: NetworkLink]?
    /// What the host measures of its networks, paths and peers; nil: an agent without health monitors.
    public var health: HostHealthReport?
    /// The digest of the cluster view the agent holds; the reply carries the view when it differs.
    public var viewDigest: String?
    /// The rates of the devices this host forwards, as its relays measure them; nil: none forwarded.
    public var traffic: [DeviceRate]?
    /// The `revision` of the registration the agent last had accepted; a controller holding
    /// another answers 404, and the agent registers again. nil: not checked.
    public var registered: Int?

    public init(networks: [NetworkRole: NetworkLink]? = nil, health: HostHealthReport? = nil, viewDigest: String? = nil,
                traffic: [DeviceRate]? = nil, registered: Int? = nil) {
        self.registered = registered
        self.networks = networks
        self.health = health
        self.viewDigest = viewDigest
        self.traffic = traffic
    }
}

/// The controller's answer to a heartbeat: the cluster as an agent needs it to watch its peers
/// (and, when the controller is out of reach, to act on its last copy).
public struct HeartbeatReply: Sendable, Equatable, Codable {
    /// Every other registered host with its address on each network.
    public var peers: [PeerHost]
    /// The cluster as placement sees it, when the agent's copy is not this one.
    public var view: ClusterView?

    public init(peers: [PeerHost], view: ClusterView? = nil) {
        self.peers = peers
        self.view = view
    }
}

public struct PeerHost: Sendable, Equatable, Codable {
    public var host: String
    public var addresses: [NetworkRole: String]
    /// The port its agent serves on: on management (the controller's calls) and, for its peers
    /// when management is lost, on its migration address.
    public var agentPort: Int?

    public init(host: String, addresses: [NetworkRole: String], agentPort: Int? = nil) {
        self.host = host
        self.addresses = addresses
        self.agentPort = agentPort
    }
}
