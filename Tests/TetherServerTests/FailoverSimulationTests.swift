import ClusterStore
import Foundation
import Testing
import TetherModel
@testable import Controller

/// The failover flows under random fault sequences, seeded: the real controller (journal,
/// judgement, placement, state machines) over simulated hosts, with storage, IO-path, network
/// and crash faults reported, agents that fail calls, hosts that die (their copies fenced) and
/// come back, and the controller itself killed and restarted at random. After every step no VM
/// runs twice; at the end, with every host back and every operation finished, each VM is on
/// exactly one host, and every VM that moved was moved by a journaled failover that explains
/// it (shared/spec/ha.md's three invariants). A failure names its seed:
/// `TETHER_SIMULATION_SEEDS=SEED swift test --filter FailoverSimulationTests` replays it.
struct FailoverSimulationTests {
    static var seeds: [UInt64] {
        if let given = ProcessInfo.processInfo.environment["TETHER_SIMULATION_SEEDS"] {
            return given.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        }
        return Array(1...12)
    }

    @Test(arguments: seeds)
    func theInvariantsHoldUnderRandomFaults(seed: UInt64) async throws {
        var simulation = try await FailoverSimulation(seed: seed)
        try await simulation.run(events: 25)
        let problems = try await simulation.invariantProblems()
        let history = problems.isEmpty ? [] : try await simulation.history()
        #expect(problems.isEmpty, "seed \(seed): \(problems.joined(separator: "; "))\nevents: \(simulation.log.joined(separator: ", "))\noperations:\n\(history.joined(separator: "\n"))")
    }
}

/// Real time that the simulation can jump forward: the controller's operations wait real
/// milliseconds between retries, while the silence of a dead host is seconds of simulated time.
final class JumpingClock: @unchecked Sendable {
    private let lock = NSLock()
    private var offset: TimeInterval = 0
    var now: Date { lock.withLock { Date().addingTimeInterval(offset) } }
    func jump(_ seconds: TimeInterval) { lock.withLock { offset += seconds } }
    var function: @Sendable () -> Date { { self.now } }
}

struct FailoverSimulation {
    static let hosts = ["host-a", "host-b", "host-c"]
    static let fencing = FencingPolicy(response: .pause, deadlineSeconds: 6)

    let world: SimulatedHosts
    let path: String
    let clock = JumpingClock()
    var random: SplitMix64
    var controller: Controller
    var runner: Task<Void, Never>
    let initial: [String: String]
    var dead: Set<String> = []
    var fenced: [String: [String: Bool]] = [:]
    var registered: [String: AgentRegistration] = [:]
    var log: [String] = []

    init(seed: UInt64) async throws {
        random = SplitMix64(seed: seed)
        var placement: [String: [String: VMRunState]] = [:]
        var initial: [String: String] = [:]
        for i in 1...5 {
            let host = Self.hosts[(i - 1) % Self.hosts.count]
            placement[host, default: [:]]["vm-\(i)"] = .running
            initial["vm-\(i)"] = host
        }
        self.initial = initial
        world = SimulatedHosts(vms: placement)
        path = try ClusterFixtures.temporaryStore().1
        (controller, runner) = try await Self.start(path: path, world: world, clock: clock)
        for host in Self.hosts { try await register(host) }
        await controller.evaluateHealth()
    }

    static func start(path: String, world: SimulatedHosts, clock: JumpingClock) async throws -> (Controller, Task<Void, Never>) {
        var settings = Controller.Settings(heartbeatTimeout: 2, stepDeadline: 0.5)
        settings.timing.firstWait = .milliseconds(5)
        settings.timing.longestWait = .milliseconds(40)
        let controller = try await Controller(store: try SQLiteClusterStore(path: path), settings: settings,
                                              connect: { SimulatedAgent(host: $0.host, world: world) }, now: clock.function)
        return (controller, Task { await controller.runOperations() })
    }

    /// What the host's agent registers: its VMs as the world has them, its fenced ones left out.
    mutating func register(_ host: String) async throws {
        let vms = await world.vms[host] ?? [:]
        let left = Set((fenced[host] ?? [:]).keys)
        var registration = AgentRegistration(host: host, agentAddress: HostPort(host: host, port: 7401), cpus: 16, memoryMiB: 16384,
                                             networks: ClusterFixtures.networks, datastores: ["ds1"], devices: [], vms: [],
                                             fencing: Self.fencing)
        registration.vms = vms.filter { !left.contains($0.key) }.sorted { $0.key < $1.key }.map { name, status in
            var vm = RegisteredVM(name: name, cpus: 1, memoryMiB: 256, networkMbps: 100, datastore: "ds1", status: status)
            vm.launch = VMLaunch(name: name, memoryMiB: 256, cpus: 1, disk: "/ds1/\(name).img")
            return vm
        }
        guard registration != registered[host] else { return }
        try await controller.register(registration)
        registered[host] = registration
    }

    mutating func pick<T>(_ from: [T]) -> T? {
        from.isEmpty ? nil : from[Int(random.next() % UInt64(from.count))]
    }

    var alive: [String] { Self.hosts.filter { !dead.contains($0) } }

    mutating func run(events: Int) async throws {
        for _ in 0..<events {
            try await act()
            try await rounds(Int(random.next() % 4) + 1)
        }
        // Every host back, nothing failing: the cluster settles.
        await world.clearFailures()
        for host in dead.sorted() { try await comeBack(host) }
        try await rounds(15)
        for _ in 0..<300 {
            if try await controller.store.unfinishedOperations().isEmpty { break }
            try await rounds(1)
        }
        try await rounds(3)
    }

    /// One random happening.
    mutating func act() async throws {
        let vmsByHost = await world.vms
        let running = alive.flatMap { host in (vmsByHost[host] ?? [:]).filter { $0.value == .running }.keys.map { (host, $0) } }
        switch random.next() % 9 {
        case 0, 1:
            guard let host = pick(alive.filter { vmsByHost[$0]?.isEmpty == false }) else { return }
            log.append("storage lost on \(host)")
            _ = try? await controller.reportFault(FaultReport(host: host, fault: .storage, evidence: ["every path down"]),
                                                 trigger: random.next() % 2 == 0 ? .selfTriggered : .external)
        case 2:
            guard let (host, vm) = pick(running) else { return }
            log.append("\(vm)'s IO paths lost on \(host)")
            _ = try? await controller.reportFault(FaultReport(host: host, fault: .ioPaths, vms: [vm], evidence: ["io-error"]), trigger: .selfTriggered)
        case 3:
            guard let (host, vm) = pick(running) else { return }
            log.append("\(vm) crashed on \(host)")
            _ = try? await controller.reportFault(FaultReport(host: host, fault: .crash, vms: [vm], evidence: ["panic"]), trigger: .selfTriggered)
        case 4:
            guard let host = pick(alive) else { return }
            log.append("migration and VM networks lost on \(host)")
            _ = try? await controller.reportFault(FaultReport(host: host, fault: .migrationAndVM, evidence: ["links down"]), trigger: .external)
        case 5:
            guard let host = pick(Self.hosts), let verb = pick(["vm", "prepareIncoming", "evacuate", "resume", "release", "startFromDisk"]) else { return }
            log.append("\(verb) on \(host) fails twice")
            await world.fail("\(verb):\(host)", with: [TetherError(.io, "flaky"), TetherError(.io, "flaky")])
        case 6:
            log.append("controller killed")
            try await restartController()
        case 7:
            // At most one host down at a time: two of three gone leaves nowhere to go.
            guard dead.isEmpty, let host = pick(alive) else { return }
            log.append("\(host) dies")
            dead.insert(host)
            await world.setReachable(host, false)
            fenced[host] = await world.fence(host)
            try await rounds(Int(random.next() % 14) + 1)
        default:
            guard let host = pick(dead.sorted()) else { return }
            log.append("\(host) comes back")
            try await comeBack(host)
        }
    }

    mutating func restartController() async throws {
        runner.cancel()
        await runner.value
        (controller, runner) = try await Self.start(path: path, world: world, clock: clock)
        registered = [:]
        _ = try await controller.recover()
        for host in alive { try await register(host) }
    }

    /// Reachable again: registers without its fenced copies, reads the view in the answer to
    /// its heartbeat, quits the copies that run elsewhere by now and resumes the others.
    mutating func comeBack(_ host: String) async throws {
        dead.remove(host)
        await world.setReachable(host, true)
        try await register(host)
        let reply = try await controller.heartbeat(host: host, Heartbeat())
        let view = try #require(reply.view)
        let placed = try ClusterFile.decode(view.cluster, name: "view").vms
        await world.releaseFenced(host, fenced[host] ?? [:], elsewhere: Dictionary(placed.map { ($0.name, $0.host) }) { first, _ in first })
        fenced[host] = nil
        try await register(host)
    }

    /// Simulated seconds: every living host heartbeats (and registers what changed), the
    /// controller judges and acts, and its operations get real time to run.
    mutating func rounds(_ count: Int) async throws {
        for _ in 0..<count {
            clock.jump(1)
            for host in alive {
                try await register(host)
                _ = try? await controller.heartbeat(host: host, Heartbeat())
            }
            await controller.evaluateHealth()
            await controller.actOnHealth()
            try await Task.sleep(for: .milliseconds(15))
        }
    }

    /// Every operation, oldest first, with its steps: what a failing seed is read from.
    func history() async throws -> [String] {
        try await controller.store.recentOperations(limit: 1000).reversed().map { record in
            let move = record.failover.map { "\($0.fault.rawValue) \($0.from)->\($0.target)" } ?? record.kind.rawValue
            return "\(record.id) \(record.vm) \(move) \(record.state.rawValue) \(record.error ?? ""): "
                + record.steps.map { "\($0.step) \($0.phase.rawValue)" }.joined(separator: ", ")
        }
    }

    /// The spec's invariants, as far as the end state shows them (running twice is checked by
    /// the world after every call).
    func invariantProblems() async throws -> [String] {
        var problems = await world.runningTwice.map { "ran twice: \($0)" }
        let vms = await world.vms
        let occupying: Set<VMRunState> = [.running, .paused, .ioError, .guestPanicked, .suspended]
        let operations = try await controller.store.recentOperations(limit: 1000)
        if let stuck = operations.first(where: { !$0.state.isFinished }) { problems.append("\(stuck.id) of \(stuck.vm) never finished") }
        for (vm, first) in initial.sorted(by: { $0.key < $1.key }) {
            let copies = vms.filter { occupying.contains($0.value[vm] ?? .shutdown) }.map(\.key).sorted()
            guard copies.count == 1, let now = copies.first else {
                problems.append("\(vm) is on \(copies.isEmpty ? "no host" : copies.joined(separator: " and ")): \(vms.mapValues { $0[vm].map { "\($0)" } ?? "-" })")
                continue
            }
            // Moved by a failover that completed, or that failed once the VM's state was there
            // (its journal says so); newest first.
            let moves = operations.filter { record in
                guard record.vm == vm, let order = record.failover, order.target != order.from else { return false }
                return record.state == .completed || (record.state == .failed && record.steps.contains { $0.step == "evacuate" && $0.phase == .done })
            }
            if now != first, moves.first?.failover?.target != now {
                problems.append("\(vm) went from \(first) to \(now) without a failover that took it there (last: \(moves.first?.failover?.target ?? "none"))")
            }
        }
        for record in operations {
            guard let order = record.failover else { continue }
            if order.evidence.isEmpty || order.reasons.isEmpty { problems.append("\(record.id) does not explain itself: \(order)") }
        }
        return problems
    }
}
