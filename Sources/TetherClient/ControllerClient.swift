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

    /// Polls an operation until it finishes: each step as it is recorded done or failed goes to
    /// `step`, each unfinished record (a migration's progress) to `running`. Past `deadline` it
    /// throws a timeout that says `late`. The polls start 5 ms apart and double up to `poll`:
    /// an attach of a device already on the VM's host is done in tens of milliseconds, and a
    /// hook that first looked again after 50 ms made every container wait for that (a poll
    /// costs the controller a fraction of a millisecond).
    public func follow(_ id: String, until deadline: ContinuousClock.Instant, late: String, every poll: Duration = .milliseconds(50),
                       step: (StepRecord) -> Void = { _ in }, running: (OperationRecord) -> Void = { _ in }) async throws(TetherError) -> OperationRecord {
        var shown = 0
        var pause = min(.milliseconds(5), poll)
        while true {
            let record = try await operation(id)
            for each in record.steps.dropFirst(shown) where each.phase != .started { step(each) }
            shown = record.steps.count
            if record.state.isFinished { return record }
            running(record)
            guard ContinuousClock.now < deadline else { throw TetherError(.timeout, late) }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, poll)
        }
    }

    public func status() async throws(TetherError) -> ClusterStatus {
        try await api.get("/v1/status")
    }

    /// The events after `sequence`, waiting up to `wait` for one when there is none yet.
    public func events(after sequence: Int, wait: Duration = .zero) async throws(TetherError) -> EventPage {
        try await api.get("/v1/events?after=\(sequence)&wait=\(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)")
    }
}
