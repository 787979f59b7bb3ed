import ClusterStore
import Failover
import Foundation
import Logging
import Placement
import ServiceLifecycle
import TetherModel

/// A host moving its own VMs while its controller is out of reach (management network lost,
/// shared/spec/ha.md): it places them with `tether plan`'s engine on the cluster view the
/// controller last pushed, journals one failover per VM in its own journal
/// (`stateDirectory/journal.sqlite`, the controller's store and state machine), and drives the
/// steps against the targets' agents directly, over the migration network and mutual TLS. When
/// the controller answers again, the finished operations are handed to it for its journal.
public actor PeerFailover {
    /// An agent client for a peer, reached on its migration address; nil when it has none.
    public typealias PeerConnector = @Sendable (PeerHost) -> (any HostAgent)?

    /// This host's agent: the source of every move.
    let agent: any HostAgent
    let journal: SQLiteClusterStore
    let connectPeer: PeerConnector
    let timing: OperationStateMachine.Timing
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Called after every journal write (fault injection: the agent killed at a chosen step).
    private let journaled: @Sendable (OperationRecord, StepRecord) -> Void
    private let viewFile: String
    private let reportedFile: String
    private(set) var view: ClusterView?
    private var controllerHeardAt: Date?
    private var watch: ManagementLossWatch
    /// Fencing: nil when the host does not fence (`isolationResponse: none`).
    private var isolation: IsolationWatch?
    /// Whether the host moves its own VMs when management is lost (`selfTriggeredFailover`).
    let movesOnOwn: Bool
    /// This host's agent, for fencing (the moves need only `agent`).
    let service: HostAgentService?
    private var peers: [String: any HostAgent] = [:]
    private var reported: Set<String>
    private var acting: Task<Void, Never>?

    public init(agent: any HostAgent, stateDirectory: String, connectPeer: @escaping PeerConnector, silence: TimeInterval = 2,
                movesOnOwn: Bool = true, isolationDeadline: TimeInterval? = nil,
                timing: OperationStateMachine.Timing = .init(stepDeadline: 30), logger: Logger,
                now: @escaping @Sendable () -> Date = { Date() },
                journaled: @escaping @Sendable (OperationRecord, StepRecord) -> Void = { _, _ in }) throws(TetherError) {
        self.journaled = journaled
        self.agent = agent
        self.service = agent as? HostAgentService
        self.movesOnOwn = movesOnOwn
        isolation = isolationDeadline.map { IsolationWatch(deadline: $0, silence: silence) }
        self.connectPeer = connectPeer
        self.timing = timing
        self.logger = logger
        self.clock = now
        watch = ManagementLossWatch(silence: silence)
        journal = try SQLiteClusterStore(path: "\(stateDirectory)/journal.sqlite")
        viewFile = "\(stateDirectory)/cluster-view.json"
        reportedFile = "\(stateDirectory)/journal-reported"
        view = FileManager.default.contents(atPath: viewFile).flatMap { try? JSONDecoder().decode(ClusterView.self, from: $0) }
        reported = Set(((try? String(contentsOfFile: reportedFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init))
    }

    public var viewDigest: String? { view?.digest }

    /// Who may call this agent on its listener for peers: the controller and the cluster's hosts.
    public func callers(besides controller: String) -> Set<String> {
        Set((view?.hosts.map(\.host) ?? []) + [controller]).subtracting([agent.host])
    }

    /// The controller answered a heartbeat: it is in reach, and its view may be new. The view is
    /// kept on disk (JSON, and the cluster file beside it for `tether plan`), so that an agent
    /// restarted while cut off still has it.
    public func heard(_ reply: HeartbeatReply, at time: Date) {
        controllerHeardAt = time
        guard let new = reply.view, new != view else { return }
        view = new
        do {
            try JSONEncoder().encode(new).write(to: URL(fileURLWithPath: viewFile), options: .atomic)
            try new.cluster.write(toFile: viewFile.replacingOccurrences(of: ".json", with: ".yaml"), atomically: true, encoding: .utf8)
        } catch {
            logger.warning("could not keep the cluster view on disk: \(error)")
        }
    }

    /// One look at the host's health (every 250 ms): management lost starts the move of every
    /// VM, once per loss.
    public func observe(_ health: HostHealthReport?) async {
        await watchIsolation(health)
        guard movesOnOwn else { return }
        let observation = ManagementLossWatch.Observation(now: clock(), controllerHeardAt: controllerHeardAt,
                                                          management: health?.networks[.management]?.state ?? .unknown,
                                                          migration: health?.networks[.migration]?.state ?? .unknown,
                                                          managementLink: health?.networks[.management]?.link)
        switch watch.observe(observation) {
        case .none:
            break
        case .recovered:
            logger.notice("the controller answers again: management is back")
        case .failOver(let since, let evidence):
            logger.error("management network lost: this host moves its VMs itself", metadata: ["evidence": "\(evidence)"])
            guard acting == nil else { return }
            acting = Task {
                await self.failOver(since: since, evidence: evidence)
                self.acted()
            }
        }
    }

    private func acted() { acting = nil }

    /// Fences the host's VMs when it is isolated, and lets them go when the controller answers
    /// (quit where the view shows them on another host: restarted there meanwhile).
    private func watchIsolation(_ health: HostHealthReport?) async {
        guard var watch = isolation, let health, let service else { return }
        let paths = health.datastores.flatMap(\.paths)
        let observation = IsolationWatch.Observation(now: clock(), controllerHeardAt: controllerHeardAt,
                                                     networks: health.networks.filter { $0.value.address != nil }.mapValues(\.state),
                                                     anyPathUp: paths.contains { $0.state == .up },
                                                     lastPathSuccess: paths.compactMap(\.lastSuccess).max())
        let action = watch.observe(observation)
        isolation = watch
        switch action {
        case .none:
            break
        case .fence(let evidence, let deadline):
            _ = await service.fence(evidence: evidence, deadline: deadline)
        case .release:
            await releaseFenced()
        }
    }

    /// Lets the fenced VMs go, as the cluster view places them: quit where it shows them on
    /// another host (restarted there meanwhile), resumed otherwise.
    public func releaseFenced() async {
        guard let service else { return }
        let placed = view.flatMap { try? ClusterFile.decode($0.cluster, name: "the cluster view") }?.vms ?? []
        var elsewhere: [String: String] = [:]
        for vm in placed where vm.host != agent.host { elsewhere[vm.name] = vm.host }
        await service.releaseFenced(runningElsewhere: elsewhere)
    }

    /// Plans and journals one failover per VM of this host, then drives them one at a time (each
    /// migration has the migration network to itself).
    @discardableResult
    public func failOver(since: Date, evidence: [String]) async -> [OperationRecord] {
        guard let view else {
            logger.error("management lost but no cluster view was ever received: the VMs stay")
            return []
        }
        let time = clock()
        let planned: FaultOrders
        do {
            var cluster = try ClusterFile.decode(view.cluster, name: "the cluster view")
            for h in cluster.hosts.indices where cluster.hosts[h].name == agent.host {
                cluster.hosts[h].networks[.management]?.up = false
            }
            let report = FaultReport(host: agent.host, fault: .management, evidence: evidence, faultAt: since)
            planned = try FaultOrders(report, trigger: .selfTriggered, on: ClusterIndex(cluster), at: time)
        } catch {
            logger.error("management lost, and the move could not be planned: \(error)")
            return []
        }
        for unplaced in planned.unplaced {
            logger.error("management lost: a VM has nowhere to go", metadata: ["vm": "\(unplaced.vm)", "why": "\(unplaced.reasons)"])
        }
        var begun: [OperationRecord] = []
        for var order in planned.orders {
            order.ranBy = agent.host
            do {
                begun.append(try await journal.begin(.failover(order), at: time))
            } catch {
                logger.error("could not journal the move of \(order.vm): it stays: \(error)")
            }
        }
        for record in begun { await drive(record) }
        var finished: [OperationRecord] = []
        for record in begun { if let done = try? await journal.operation(record.id) { finished.append(done) } }
        return finished
    }

    /// What a restarted agent does first: drives every unfinished move in its journal to its end.
    public func recover() async {
        guard let unfinished = try? await journal.unfinishedOperations(), !unfinished.isEmpty else { return }
        logger.notice("finishing the moves this host began", metadata: ["operations": "\(unfinished.map(\.id))"])
        for record in unfinished { await drive(record) }
    }

    func drive(_ record: OperationRecord) async {
        await OperationDriver.drive(record, timing: timing, by: PeerSteps(failover: self))
    }

    /// Finished operations the controller has not been given yet.
    public func unreported() async -> [OperationRecord] {
        let recent = (try? await journal.recentOperations(limit: 200)) ?? []
        return recent.filter { $0.state.isFinished && !reported.contains($0.id) }.sorted { $0.created < $1.created }
    }

    public func markReported(_ ids: [String]) {
        reported.formUnion(ids)
        try? reported.sorted().joined(separator: "\n").write(toFile: reportedFile, atomically: true, encoding: .utf8)
    }

    // MARK: the steps

    func record(_ step: StepRecord, in operation: OperationRecord) async -> OperationRecord? {
        do {
            let updated = try await journal.record(step, in: operation.id)
            logger.notice("move \(step.step) \(step.phase.rawValue)", metadata: ["operation": "\(operation.id)", "vm": "\(operation.vm)",
                                                                               "detail": "\(step.detail ?? "")"])
            journaled(updated, step)
            return updated
        } catch {
            logger.error("the journal cannot be written; the move stops here: \(error)")
            return nil
        }
    }

    func finish(_ operation: OperationRecord, as state: OperationRecord.State, error: String?) async {
        _ = try? await journal.finish(operation.id, as: state, error: error, at: clock())
        logger.notice("move \(state.rawValue)", metadata: ["operation": "\(operation.id)", "vm": "\(operation.vm)"])
    }

    /// The devices forwarded to a VM this host moves follow it, as the controller's moves let
    /// them: each device's host (this one, or a peer reached on the migration network) lets the
    /// new host's relay end take the stream. Best effort: a device whose host cannot be reached
    /// does not keep the VM on a host that lost its management network.
    func letDevicesFollow(_ vm: AgentVMState, to host: String) async {
        for end in vm.channels {
            guard let device = DeviceAttachment.device(ofSession: end.session) else { continue }
            do {
                let exporter = end.deviceHost == agent.host ? agent : try peer(end.deviceHost)
                _ = try await exporter.export(ExportRequest(session: end.session, device: device.id, local: false, allow: [host]))
            } catch {
                logger.error("a forwarded device cannot follow its VM: \(error)", metadata: ["vm": "\(vm.name)", "session": "\(end.session)", "to": "\(host)"])
            }
        }
    }

    func steps(_ operation: OperationRecord) throws(TetherError) -> MigrationSteps {
        guard let target = operation.migrationTarget else { throw TetherError(.internalError, "\(operation.id) is not a migration") }
        return MigrationSteps(vm: operation.vm, source: agent, target: try peer(target))
    }

    private func peer(_ host: String) throws(TetherError) -> any HostAgent {
        if let known = peers[host] { return known }
        guard let entry = view?.hosts.first(where: { $0.host == host }), let client = connectPeer(entry) else {
            throw TetherError(.notFound, "no way to reach \(host)'s agent on the migration network in the cluster view")
        }
        peers[host] = client
        return client
    }
}

/// The agent's own moves as `OperationDriver` sees them: a failover's steps with this host as
/// the source; the migration goes over the migration network, as an attach's does.
struct PeerSteps: OperationPerformer {
    let failover: PeerFailover

    func now() -> Date { failover.clock() }
    func journal(_ step: StepRecord, in operation: OperationRecord) async -> OperationRecord? { await failover.record(step, in: operation) }
    func finish(_ operation: OperationRecord, as state: OperationRecord.State, error: String?) async {
        await failover.finish(operation, as: state, error: error)
    }

    func perform(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) -> (detail: String?, output: StepOutput?) {
        let moving = try await failover.steps(operation)
        switch step {
        case .prepareIncoming:
            let target = moving.target.host
            return try await moving.prepareIncoming { here throws(TetherError) in
                await self.failover.letDevicesFollow(here, to: target)
            }
        case .evacuate, .migrate:
            return try await moving.send(operation.output(of: OperationStep.prepareIncoming.rawValue), evacuate: true,
                                         leaveStorage: operation.failover?.leavesStorage ?? false)
        case .resume:
            return (try await moving.resume(), nil)
        case .releaseSource:
            return (try await moving.releaseSource(), nil)
        case .abandonIncoming:
            try await moving.abandonIncoming()
            return (nil, nil)
        case .export, .channel, .closeChannel, .stopExport, .collectCrash, .restart, .followDevices:
            throw TetherError(.unsupported, "a host moving its own VMs does not \(step.rawValue)")
        }
    }

    func undo(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) {
        guard step == .abandonIncoming else { throw TetherError(.internalError, "\(step.rawValue) has no undo of its own") }
        try await failover.steps(operation).abandonIncoming()
    }
}

/// Looks at the host's health every 250 ms for a lost management network.
public struct PeerFailoverWatch: Service {
    let failover: PeerFailover
    let health: any HealthSource

    public init(failover: PeerFailover, health: any HealthSource) {
        self.failover = failover
        self.health = health
    }

    public func run() async throws {
        await failover.recover()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await failover.observe(await health.report())
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}
