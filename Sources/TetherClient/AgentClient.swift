import TetherModel

/// What the controller asks of a host's agent. Every call is idempotent.
public protocol HostAgent: Sendable {
    var host: String { get }
    func vm(_ name: String) async throws(TetherError) -> AgentVMState?
    func prepareIncoming(_ request: IncomingRequest) async throws(TetherError) -> HostPort
    func startMigration(vm: String, to target: HostPort) async throws(TetherError)
    func release(vm: String, movedTo host: String) async throws(TetherError)
    func abandonIncoming(vm: String) async throws(TetherError)
    func export(_ request: ExportRequest) async throws(TetherError) -> HostPort
    func stopExport(session: String) async throws(TetherError)
    func openChannel(_ request: ChannelRequest) async throws(TetherError)
    func closeChannel(session: String, vm: String) async throws(TetherError)
}

/// An agent's API over mutual TLS.
public struct AgentClient: HostAgent {
    public let api: APIClient
    public let host: String

    public init(_ api: APIClient, host: String) {
        self.api = api
        self.host = host
    }

    /// The VM's state on this host; nil when the host does not run it.
    public func vm(_ name: String) async throws(TetherError) -> AgentVMState? {
        do {
            return try await api.get("/v1/agent/vms/\(name)")
        } catch where error.code == .notFound {
            return nil
        }
    }

    public func prepareIncoming(_ request: IncomingRequest) async throws(TetherError) -> HostPort {
        let reply: AddressReply = try await api.post("/v1/agent/incoming", request)
        return reply.address
    }

    public func startMigration(vm: String, to target: HostPort) async throws(TetherError) {
        try await api.post("/v1/agent/migrations", MigrateRequest(vm: vm, to: target))
    }

    /// Quits a VM whose state went to `host` (postmigrate): never one that runs.
    public func release(vm: String, movedTo host: String) async throws(TetherError) {
        try await api.post("/v1/agent/vms/release", VMRequest(vm: vm, movedTo: host))
    }

    /// Quits a VM that waits for a migration (inmigrate): the undo of `prepareIncoming`.
    public func abandonIncoming(vm: String) async throws(TetherError) {
        try await api.post("/v1/agent/vms/abandon", VMRequest(vm: vm))
    }

    public func export(_ request: ExportRequest) async throws(TetherError) -> HostPort {
        let reply: AddressReply = try await api.post("/v1/agent/exports", request)
        return reply.address
    }

    public func stopExport(session: String) async throws(TetherError) {
        try await api.post("/v1/agent/exports/stop", SessionRequest(session: session))
    }

    public func openChannel(_ request: ChannelRequest) async throws(TetherError) {
        try await api.post("/v1/agent/channels", request)
    }

    public func closeChannel(session: String, vm: String) async throws(TetherError) {
        try await api.post("/v1/agent/channels/stop", SessionRequest(session: session, vm: vm))
    }
}
