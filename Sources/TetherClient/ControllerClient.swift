import TetherModel

/// The controller's API, typed: what the CLI, the OCI hook and the agents call.
public struct ControllerClient: Sendable {
    public let api: APIClient

    public init(_ api: APIClient) { self.api = api }

    public func register(_ registration: AgentRegistration) async throws(TetherError) {
        try await api.post("/v1/agents", registration)
    }

    public func heartbeat(host: String, _ beat: Heartbeat = Heartbeat()) async throws(TetherError) {
        try await api.post("/v1/agents/\(host)/heartbeat", beat)
    }

    public func attach(_ request: AttachRequest) async throws(TetherError) -> AttachResponse {
        try await api.post("/v1/attachments", request)
    }

    public func detach(_ request: DetachRequest) async throws(TetherError) -> DetachReply {
        try await api.post("/v1/detachments", request)
    }

    public func operation(_ id: String) async throws(TetherError) -> OperationRecord {
        try await api.get("/v1/operations/\(id)")
    }

    public func status() async throws(TetherError) -> ClusterStatus {
        try await api.get("/v1/status")
    }
}
