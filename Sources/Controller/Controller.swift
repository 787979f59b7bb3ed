import ClusterStore
import Failover
import Foundation
import Metrics
import Placement
import TetherModel

/// The controller's state: what agents registered, when each last heartbeat, the attachments in
/// force, and a warm placement model (index and free capacity), rebuilt only when one of those
/// changes. A decision on a warm model costs microseconds; building it costs milliseconds.
public actor Controller {
    public struct Settings: Sendable {
        public var policy: Policy
        /// A host whose agent has not heartbeat for this long is down.
        public var heartbeatTimeout: TimeInterval
        /// How long a step keeps retrying an agent that does not answer before it is undone.
        public var stepDeadline: TimeInterval {
            get { timing.stepDeadline }
            set { timing.stepDeadline = newValue }
        }
        /// Deadlines and waits of the operation state machine.
        public var timing: OperationStateMachine.Timing
        /// When a host is heard, and when a silent one is dead.
        public var judgement = HostJudgement.Settings()
        /// The share of the management network a move over it may take (its migration network lost).
        public var managementMigrationPercent = 50
        /// A guest restarted this many times after crashes within `crashWindow` is held back.
        public var crashRestartLimit = 3
        public var crashWindow: TimeInterval = 3600
        /// What devices need beyond their descriptors, and what to do when one outgrows its channel.
        public var devices = DeviceSettings()
        /// Called after every journal write (tests and fault injection: `tetherd` can kill
        /// itself at a chosen step, to prove that a restart finishes the job).
        public var journaled: @Sendable (OperationRecord, StepRecord) -> Void

        public init(policy: Policy = Policy(), heartbeatTimeout: TimeInterval = 15, stepDeadline: TimeInterval = 60,
                    journaled: @escaping @Sendable (OperationRecord, StepRecord) -> Void = { _, _ in }) {
            self.policy = policy
            self.heartbeatTimeout = heartbeatTimeout
            self.timing = OperationStateMachine.Timing(stepDeadline: stepDeadline)
            // Heard within the heartbeat timeout; dead no sooner than the spec's 10 s.
            self.judgement = HostJudgement.Settings(heardWithin: heartbeatTimeout, deadAfter: max(10, heartbeatTimeout))
            self.journaled = journaled
        }
    }

    public struct DeviceSettings: Sendable, Equatable {
        public var rebalance: RebalancePolicy = .advise
        /// How long a forwarded device's observed need must stay above its VM's migrate
        /// threshold before it is decided again.
        public var rebalanceAfter: TimeInterval = 30
        /// A device's observed figure is the peak of its one-second rates within this window.
        public var window: TimeInterval = 60
        /// `VID:PID` -> bulk bytes per second: the operator's figure before any traffic was seen.
        public var profiles: [String: Int] = [:]

        public init(rebalance: RebalancePolicy = .advise, rebalanceAfter: TimeInterval = 30, window: TimeInterval = 60,
                    profiles: [String: Int] = [:]) {
            self.rebalance = rebalance
            self.rebalanceAfter = rebalanceAfter
            self.window = window
            self.profiles = profiles
        }
    }

    /// How the controller reaches a host's agent (mutual TLS in production; tests may fake it).
    public typealias AgentConnector = @Sendable (AgentRegistration) -> any HostAgent

    let store: any ClusterStore
    let settings: Settings
    let now: @Sendable () -> Date
    let connect: AgentConnector
    var registrations: [String: AgentRegistration] = [:]
    var lastHeartbeat: [String: Date] = [:]
    /// The hosts down at `from`, and the earliest heartbeat of a host up then: the set holds
    /// until that one's silence passes the timeout (`downHosts`). Every decision asks which
    /// hosts are down; looking at each host's last heartbeat took a tenth of a dry run at
    /// 1,000 hosts.
    var downFound: (down: Set<String>, from: Date, earliestUp: Date?)?
    /// Since when each host's agent has been heard without a gap (`markHeard`).
    var heardSince: [String: Date] = [:]
    /// Each host's last health report, and what the controller concluded from all of them.
    var health = HealthBook()
    /// Health changes and journal steps, for `tether events`.
    var events = EventLog()
    /// Requests waiting for an operation's next step or its end (`operation(_:after:wait:)`).
    var operationWaiters = Waiters()
    /// Names this controller's event numbering: another controller (a new leader, a restart)
    /// numbers from 1 again, so a stream resuming with an id of another epoch starts over
    /// instead of waiting for numbers it already saw.
    public nonisolated let eventEpoch = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    var attachments: [String: DeviceAttachment] = [:]
    /// Faults seen from the outside and acted on (`HOST/FAULT`), until they clear.
    var actedOn: Set<String> = []
    /// Since when each outside view of a fault has held (`actOnHealth`).
    var seenSince: [String: Date] = [:]
    /// Each host's last sign of life, and the dead hosts' VMs being restarted elsewhere
    /// (`Controller+DeadHosts.swift`).
    var signsOfLife: [String: SignOfLife] = [:]
    var restarting: [String: RestartInFlight] = [:]
    /// The cluster view pushed to agents, and when it was made (`Controller+View.swift`).
    var pushedView: (at: Date, view: ClusterView)?
    var model: WarmModel?
    /// What forwarded devices were seen to use, and which outgrew their VM's threshold
    /// (`Controller+Traffic.swift`).
    var traffic = TrafficBook()
    var rebalancing = RebalanceWatch()
    /// Attachments to give again (their device back, an agent restarted, a VM started over),
    /// each with when to try next; old sessions of devices found at another port, to close
    /// (`Controller+DevicesComeBack.swift`).
    var toGiveBack: [String: Date] = [:]
    var toClose: [String: DeviceAttachment] = [:]
    /// VMs with an operation launched and not yet ended: nothing else touches their channels meanwhile.
    var operating: [String: Int] = [:]
    var launchedOn: [String: [String]] = [:]
    /// Gives and closes under way, and hosts whose attachments are looked at again once the
    /// operations on their VMs have ended.
    var givingNow: Set<String> = []
    var recheck: Set<String> = []
    private var agents: [String: (address: HostPort, agent: any HostAgent)] = [:]
    /// Live migration progress per operation, as the source's agent last reported it.
    var progress: [String: MigrationReport] = [:]
    /// Operations handed to the runner (`OperationRunner`, a Service), which drives each in a
    /// task of its own.
    let launched: AsyncStream<String>
    let launches: AsyncStream<String>.Continuation

    struct WarmModel {
        var index: ClusterIndex
        var state: PlacementState
        var down: Set<String>
        var owner: [DeviceRef: String]
        var sortedRegistrations: [AgentRegistration]
        var devices: DeviceDirectory
    }

    /// Loads what the store holds. Hosts known from before a restart count as up for one
    /// heartbeat timeout, which gives their agents time to check in.
    public init(store: any ClusterStore, settings: Settings = Settings(), connect: @escaping AgentConnector,
                now: @escaping @Sendable () -> Date = Date.init) async throws(TetherError) {
        self.store = store
        self.settings = settings
        self.connect = connect
        self.now = now
        (launched, launches) = AsyncStream.makeStream(of: String.self)
        let start = now()
        for r in try await store.registrations() {
            registrations[r.host] = r
            lastHeartbeat[r.host] = start
        }
        for a in try await store.attachments() { attachments[a.id] = a }
        traffic = TrafficBook(loaded: try await store.observedTraffic())
    }

    // MARK: agents

    public func register(_ registration: AgentRegistration) async throws(TetherError) {
        try registration.validate()
        // Sent by an earlier process of the host's agent than the one registered, which is heard:
        // a request that sat in a dead process's socket until its network came back. Applied, it
        // would list the VMs that process had (moved away since) and give its devices back.
        // While the newer process is not heard (it died too, or its host's clock stepped back
        // across a restart), it is taken: the heartbeat's revision check repairs what is stale.
        if let held = registrations[registration.host], let heldStart = held.agentStarted, let started = registration.agentStarted,
           started < heldStart, heardNow(registration.host, at: now()) {
            throw TetherError(.busy, "a registration of host '\(registration.host)' from its agent started at \(APIJSON.time(started)) "
                              + "came after one from its agent started at \(APIJSON.time(heldStart)), which is heard: it is older, and is not applied")
        }
        try await store.saveRegistration(registration)
        let before = registrations[registration.host]
        registrations[registration.host] = registration
        markHeard(registration.host)
        await noteDevices(from: before, to: registration)
        model = nil
        pushedView = nil   // a host or VM came, went or moved: the next heartbeat carries it
    }

    @discardableResult
    public func heartbeat(host: String, _ beat: Heartbeat) async throws(TetherError) -> HeartbeatReply {
        try beat.validate()
        guard var registration = registrations[host] else {
            throw TetherError(.notFound, "host '\(host)' has not registered; an agent registers before it heartbeats")
        }
        // What this host registered last is not what the controller holds: an older registration
        // came after it (held up on a network that was down, or sent by the agent's previous
        // process before it died). Registering again puts the host's present here.
        if let sent = beat.registered, sent != registration.revision {
            throw TetherError(.notFound, "the registration of host '\(host)' held here (revision \(registration.revision.map(String.init) ?? "none")) "
                              + "is not its last (revision \(sent)): an older one arrived late; it registers again")
        }
        markHeard(host)
        if let report = beat.health { health.reports[host] = report }
        if let networks = beat.networks, networks != registration.networks {
            registration.networks = networks
            try registration.validate()
            // Memory before the store's await: a registration arriving meanwhile must not be
            // overwritten by this older copy when the write returns.
            let before = registrations[host]
            registrations[host] = registration
            model = nil
            do {
                try await store.saveRegistration(registration)
            } catch {
                // Not kept: memory goes back, so that the next heartbeat's networks save again.
                if registrations[host] == registration { registrations[host] = before }
                throw error
            }
        }
        // Last: it awaits the store, and nothing read before it is written after it.
        if let rates = beat.traffic { await recordTraffic(host: host, rates) }
        let view = currentView()
        return HeartbeatReply(peers: view.hosts.filter { $0.host != host }, view: beat.viewDigest == view.digest ? nil : view)
    }

    /// The agent of `host`, connected once per address it registered.
    func agent(for host: String) throws(TetherError) -> any HostAgent {
        guard let registration = registrations[host] else {
            throw TetherError(.notFound, "host '\(host)' has no registered agent")
        }
        if let known = agents[host], known.address == registration.agentAddress { return known.agent }
        let agent = connect(registration)
        agents[host] = (registration.agentAddress, agent)
        return agent
    }

    /// A finished operation changes the warm model in place (the device's owner; for a
    /// migration, where the VM runs): rebuilding it would cost milliseconds per attach at
    /// 1,000 hosts, on the next request's path.
    func applyToModel(_ operation: OperationRecord) {
        guard var warm = model, let v = warm.index.vmIndex(operation.vm), let device = operation.attachment?.device else {
            model = nil   // a failover: the registrations say where the VM runs now
            return
        }
        switch operation.kind {
        case .attach:
            if let target = operation.migrationTarget.flatMap(warm.index.hostIndex) {
                warm.state.move(v, to: target, warm.index)
                warm.index.relocate(v, to: target)
            }
            warm.index.setOwner(of: device, to: v)
            warm.owner[device] = operation.vm
        case .failover:
            model = nil
            return
        case .detach:
            warm.index.setOwner(of: device, to: nil)
            warm.owner[device] = nil
        }
        model = warm
    }

    func downHosts(at time: Date) -> Set<String> {
        let timeout = settings.heartbeatTimeout
        if let found = downFound, found.from <= time, found.earliestUp.map({ time.timeIntervalSince($0) <= timeout }) ?? true {
            return found.down
        }
        var down = Set<String>()
        var earliestUp: Date?
        for (host, seen) in lastHeartbeat {
            if time.timeIntervalSince(seen) > timeout {
                down.insert(host)
            } else if earliestUp.map({ seen < $0 }) ?? true {
                earliestUp = seen
            }
        }
        downFound = (down, time, earliestUp)
        return down
    }

    /// The warm model, rebuilt when registrations, attachments or liveness changed.
    func warmModel() -> WarmModel {
        let down = downHosts(at: now())
        if let model, model.down == down { return model }
        let sorted = withObservedFigures(withRestarts(registrations.values.sorted { $0.host < $1.host }))
        let cluster = ClusterAssembly.cluster(registrations: sorted, attachments: Array(attachments.values), downHosts: down,
                                              policy: settings.policy)
        let index = ClusterIndex(cluster)
        var owner: [DeviceRef: String] = [:]
        for a in attachments.values { owner[a.device] = a.vm }
        let fresh = WarmModel(index: index, state: PlacementState(index), down: down, owner: owner, sortedRegistrations: sorted,
                              devices: DeviceDirectory(sorted))
        model = fresh
        ControllerMetrics.hosts(up: sorted.count - down.count, down: down.count)
        return fresh
    }

    // MARK: attach

    /// The decision for a request, on the current model; changes nothing.
    public func decide(_ request: AttachRequest) throws(TetherError) -> AttachDecision {
        try resolve(request).decision
    }

    private func resolve(_ request: AttachRequest) throws(TetherError) -> (decision: AttachDecision, device: DeviceRef) {
        let model = warmModel()
        try Self.checkNames(request)
        let vmIndex = request.vm.flatMap { model.index.vmIndex($0) } ?? model.index.vmIndex(container: request.container)
        let vm = vmIndex.map { model.index.vm($0) }
        let device = try DeviceResolver.resolve(request.device, in: model.devices, attachedTo: model.owner,
                                                for: vm?.name ?? request.vm, on: vm?.host)
        var decision = try AttachPlanner.decide(container: request.container, vm: request.vm, device: device, model.index, state: model.state)
        if let reason = figureReason(device) { decision.reasons.insert(reason, at: 0) }
        return (decision, device)
    }

    /// Decides, and unless it is a dry run or a rejection, journals the attach and starts it.
    public func attach(_ request: AttachRequest) async throws(TetherError) -> AttachResponse {
        let start = ContinuousClock.now
        var (decision, device) = try resolve(request)
        ControllerMetrics.decided(decision.action, dryRun: request.dryRun, in: ContinuousClock.now - start)
        guard !request.dryRun, decision.action != .reject else { return AttachResponse(decision: decision, operation: nil) }
        let id = DeviceAttachment.id(vm: decision.vm, device: device)
        if attachments[id] != nil {
            decision.reasons.append("\(device) is already attached to \(decision.vm) (\(id)); nothing to do")
            return AttachResponse(decision: decision, operation: nil)
        }
        var attachment = DeviceAttachment(container: request.container, vm: decision.vm, device: device,
                                          mode: decision.action == .forward ? .forward : .local,
                                          vmHost: decision.targetHost ?? decision.vmHost, since: now())
        attachment.identity = registrations[device.host]?.devices.first { $0.id == device.id }.flatMap(Self.identity)
        let operation = try await store.begin(.attach(attachment, decision: decision), at: now())
        launch(operation)
        return AttachResponse(decision: decision, operation: operation)
    }

    /// Journals and starts one detach per attachment of the container (or only the selected device's).
    public func detach(_ request: DetachRequest) async throws(TetherError) -> DetachReply {
        guard APINames.isValid(request.container) else {
            throw TetherError(.invalidArgument, "container '\(request.container)' \(APINames.rule)")
        }
        let model = warmModel()
        let mine = attachments.values.filter { attachment in
            guard attachment.container == request.container else { return false }
            guard let selector = request.device else { return true }
            let registered = model.sortedRegistrations.first { $0.host == attachment.device.host }?
                .devices.first { $0.id == attachment.device.id }
            return registered.map { selector.matches($0, on: attachment.device.host) }
                ?? (selector == .port(attachment.device))
        }.sorted { $0.id < $1.id }
        guard !mine.isEmpty else {
            throw TetherError(.notFound, "container '\(request.container)' has no attached device"
                              + (request.device.map { " matching \($0)" } ?? "") + "; `tether status` lists attachments")
        }
        var operations: [OperationRecord] = []
        for attachment in mine {
            let operation = try await store.begin(.detach(attachment, reason: "detach requested for container \(attachment.container)"),
                                                  at: now())
            launch(operation)
            operations.append(operation)
        }
        return DetachReply(operations: operations)
    }

    static func checkNames(_ request: AttachRequest) throws(TetherError) {
        if !APINames.isValid(request.container) { throw TetherError(.invalidArgument, "container '\(request.container)' \(APINames.rule)") }
        if let vm = request.vm, !APINames.isValid(vm) { throw TetherError(.invalidArgument, "vm '\(vm)' \(APINames.rule)") }
    }

    // MARK: reading

    public func status() async throws(TetherError) -> ClusterStatus {
        // The journal first, then memory: an operation finishing meanwhile shows as running with
        // its attachment made, never as finished without it.
        let operations = try await store.unfinishedOperations()
        let judged = judgeHosts()
        let sorted = withRestarts(registrations.values.sorted { $0.host < $1.host })
        let hosts = sorted.map { r in
            let verdict = judged[r.host]
            return HostStatus(registration: r, up: verdict?.up ?? true, lastHeartbeat: lastHeartbeat[r.host],
                              condition: health.conditions[r.host] ?? verdict?.condition ?? HostCondition(.healthy),
                              networks: verdict?.networks ?? [:], datastores: verdict?.datastores ?? [])
        }
        // Heard by the controller itself: a host that lost management is `up` (its peers hear
        // it), but what it registered is as old as its last heartbeat.
        let time = now()
        let heard = Set(sorted.map(\.host).filter { heardNow($0, at: time) })
        let vms = VMListing.vms(of: sorted, heard: heard)
        return ClusterStatus(hosts: hosts, vms: vms, attachments: attachments.values.sorted { $0.id < $1.id },
                             operations: operations, devices: deviceFigures())
    }

    public func operation(_ id: String) async throws(TetherError) -> OperationRecord {
        guard var record = try await store.operation(id) else { throw TetherError(.notFound, "no operation '\(id)'") }
        record.progress = progress[id]
        return record
    }

    /// The operation once it has more than `steps` steps or has finished, waiting up to `wait`
    /// for that (woken by its steps and its end, not polling): how `tether attach` and the OCI
    /// hook follow an attach to its end without a poll's delay.
    public func operation(_ id: String, after steps: Int, wait: Duration) async throws(TetherError) -> OperationRecord {
        let deadline = ContinuousClock.now + wait
        while true {
            // In line before the journal is read: a step written while it is read wakes the wait.
            let place = operationWaiters.placeInLine()
            let record: OperationRecord
            do {
                record = try await operation(id)
            } catch {
                operationWaiters.leave(place)
                throw error
            }
            let left = deadline - ContinuousClock.now
            if record.state.isFinished || record.steps.count > steps || left <= .zero || Task.isCancelled {
                operationWaiters.leave(place)
                return record
            }
            await self.wait(at: place, of: .operations, within: left)
            // A follower gone (its connection closed) takes what was read: the store refuses a
            // cancelled task's reads.
            if Task.isCancelled { return record }
        }
    }
}
