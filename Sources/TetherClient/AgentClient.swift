import TetherModel

/// An agent's API over mutual TLS.
public struct AgentClient: HostAgent {
    public let api: APIClient
    public let host: String

    public init(_ api: APIClient, host: String) {
        self.api = api
        self.host = host
    }

    public func registration() async throws(TetherError) -> AgentRegistration {
        try await api.get("/v1/agent/registration")
    }

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

    public func startMigration(vm: String, to address: HostPort, target: String) async throws(TetherError) {
        try await api.post("/v1/agent/migrations", MigrateRequest(vm: vm, to: address, target: target))
    }

    public func release(vm: String, movedTo host: String?) async throws(TetherError) {
        try await api.post("/v1/agent/vms/release", VMRequest(vm: vm, movedTo: host))
    }

    public func abandonIncoming(vm: String) async throws(TetherError) {
        try await api.post("/v1/agent/vms/abandon", VMRequest(vm: vm))
    }

    public func evacuate(_ request: EvacuateRequest) async throws(TetherError) {
        try await api.post("/v1/agent/evacuations", request)
    }

    public func resume(vm: String) async throws(TetherError) -> VMRunState {
        let reply: AgentVMState = try await api.post("/v1/agent/vms/resume", VMRequest(vm: vm))
        return reply.status
    }

    public func collectCrash(vm: String) async throws(TetherError) -> CrashCollection {
        try await api.post("/v1/agent/vms/crash", VMRequest(vm: vm))
    }

    public func restart(vm: String) async throws(TetherError) -> VMRunState {
        let reply: AgentVMState = try await api.post("/v1/agent/vms/restart", VMRequest(vm: vm))
        return reply.status
    }

    public func startFromDisk(_ vm: RegisteredVM) async throws(TetherError) -> VMRunState {
        let reply: AgentVMState = try await api.post("/v1/agent/vms/start", vm)
        return reply.status
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

    public func closeChannel(session: String, vm: String?) async throws(TetherError) {
        try await api.post("/v1/agent/channels/stop", SessionRequest(session: session, vm: vm))
    }
}
