import TetherModel

/// The controller's API, typed: what the CLI, the OCI hook and the agents call.
public struct ControllerClient: Sendable {
    public let api: APIClient

    public init(_ api: APIClient) { self.api = api }

    public func register(_ registration: AgentRegistration) async throws(TetherError) {
        try await api.post("/v1/agents", registration)
    }

    @discardableResult
    public func heartbeat(host: String, _ beat: Heartbeat = Heartbeat()) async throws(TetherError) -> HeartbeatReply {
        try await api.post("/v1/agents/\(host)/heartbeat", beat)
    }

    /// Reports a fault this host's agent saw; the controller plans and journals the failovers.
    public func reportFault(_ report: FaultReport) async throws(TetherError) -> FaultReply {
        try await api.post("/v1/faults", report)
    }

    /// Hands the controller the moves this host made on its own while it was out of reach
    /// (management lost), for its journal; answers the ids it journaled them under.
    public func reportMoves(host: String, _ moves: [OperationRecord]) async throws(TetherError) -> [String] {
        try await api.post("/v1/agents/\(host)/moves", moves)
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

    /// The operation once it has more than `steps` steps or has finished, or after `wait`: the
    /// controller answers when either comes (a long poll).
    public func operation(_ id: String, after steps: Int, wait: Duration) async throws(TetherError) -> OperationRecord {
        try await api.get("/v1/operations/\(id)?after=\(steps)&wait=\(Self.seconds(wait))")
    }

    /// Follows an operation until it finishes: each step as it is recorded done or failed goes
    /// to `step`, each unfinished record to `running` (at least every `refresh`: a migration's
    /// progress). Past `deadline` it throws a timeout that says `late`. Each look is a long poll
    /// the controller answers at the operation's next step or end, so a follower (the OCI hook
    /// above all: a container waits on it) learns the end as it is journaled, not at a poll's
    /// next tick. A controller that answers at once (one from before the long poll) is asked
    /// again 5 ms later, doubling up to 50 ms.
    public func follow(_ id: String, until deadline: ContinuousClock.Instant, late: String, refresh: Duration = .seconds(1),
                       step: (StepRecord) -> Void = { _ in }, running: (OperationRecord) -> Void = { _ in }) async throws(TetherError) -> OperationRecord {
        var shown = 0
        var pause: Duration = .milliseconds(5)
        while true {
            let wait = max(.zero, min(refresh, deadline - .now))
            let asked = ContinuousClock.now
            let record = try await operation(id, after: shown, wait: wait)
            let unchanged = record.steps.count == shown
            for each in record.steps.dropFirst(shown) where each.phase != .started { step(each) }
            shown = record.steps.count
            if record.state.isFinished { return record }
            running(record)
            guard ContinuousClock.now < deadline else { throw TetherError(.timeout, late) }
            if unchanged && ContinuousClock.now - asked < wait / 2 {
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(50))
            }
        }
    }

    /// Seconds as the API's queries take them (`wait=0.25`).
    static func seconds(_ duration: Duration) -> String {
        String(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    public func status() async throws(TetherError) -> ClusterStatus {
        try await api.get("/v1/status")
    }

    /// The events after `sequence`, waiting up to `wait` for one when there is none yet.
    public func events(after sequence: Int, wait: Duration = .zero) async throws(TetherError) -> EventPage {
        try await api.get("/v1/events?after=\(sequence)&wait=\(Self.seconds(wait))")
    }
}
