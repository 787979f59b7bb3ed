import Foundation

/// `GET /v1/status`: the cluster as the controller sees it now.
public struct ClusterStatus: Sendable, Equatable, Codable {
    public var hosts: [HostStatus]
    public var attachments: [DeviceAttachment]
    /// Operations not yet finished.
    public var operations: [OperationRecord]

    public init(hosts: [HostStatus], attachments: [DeviceAttachment], operations: [OperationRecord]) {
        self.hosts = hosts
        self.attachments = attachments
        self.operations = operations
    }
}

public struct HostStatus: Sendable, Equatable, Codable {
    public var registration: AgentRegistration
    /// False once heartbeats stopped for longer than the controller's timeout.
    public var up: Bool
    public var lastHeartbeat: Date?

    public init(registration: AgentRegistration, up: Bool, lastHeartbeat: Date?) {
        self.registration = registration
        self.up = up
        self.lastHeartbeat = lastHeartbeat
    }
}

/// `POST /v1/agents/{host}/heartbeat`.
public struct Heartbeat: Sendable, Equatable, Codable {
    /// The host's networks as the agent sees them now; nil: unchanged.
    public var networks: [NetworkRole: NetworkLink]?

    public init(networks: [NetworkRole: NetworkLink]? = nil) { self.networks = networks }
}
