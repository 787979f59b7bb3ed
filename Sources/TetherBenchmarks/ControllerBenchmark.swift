import ArgumentParser
import Channel
import ClusterStore
import ClusterStoreEtcd
import Foundation
import Hummingbird
import Logging
import NIOPosix
import TetherClient
import TetherModel
import Controller
import TetherHTTP
import TetherServer
import TetherSystem
import TetherTestSupport

/// The controller through its API (unix socket, HTTP/1.1, JSON): dry-run decisions per second
/// with a generated cluster registered, and the controller's own latency on a real attach, from
/// the API call to the first agent action (the agents here record when they are first asked
/// and answer at once, so only the controller's time is measured: decide, journal, dispatch).
struct ControllerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "controller",
                                                    abstract: "Dry-run attach decisions per second, and API call to first agent action.")

    @Option(help: "Hosts to register.") var hosts = 1_000
    @Option(help: "VMs per host.") var vmsPerHost = 10
    @Option(help: "Seconds of dry-run decisions.") var seconds = 5.0
    @Option(help: "Concurrent API clients.") var clients = 4
    @Option(help: "Dry runs in all, instead of --seconds of them: for instruction counts (valgrind), whose differences between two counts are a request's.")
    var dryRuns: Int?
    @Option(help: "Real attaches to time.") var attaches = 100
    @Option(help: "etcd://HOST:PORT,... : the store on etcd (under a fresh prefix) instead of SQLite; `etcd` starts one here.")
    var store: String?

    /// Dry-run decisions per second and their p50; the real attach's p50, API call to first
    /// agent action (ms).
    struct Figures {
        var decisionsPerSecond: Double
        var decisionP50: Double
        var attachP50: Double
        /// Nil with the store on etcd.
        var controllerProcess: ControllerProcess?
    }

    /// Dry runs with the controller in a process of its own: the rate, and CPU per decision.
    struct ControllerProcess {
        var decisionsPerSecond: Double
        var controllerCPU: Double
        var clientsCPU: Double
        /// The machine's cores over the controller's CPU per decision: its rate with the
        /// clients on other machines.
        var capacity: Double { Double(ProcessInfo.processInfo.activeProcessorCount) / controllerCPU * 1e6 }
    }

    func run() async throws { _ = try await measure() }

    func measure() async throws -> Figures {
        let cluster = ClusterGenerator(hosts: hosts, vmsPerHost: vmsPerHost).generate(seed: 42)
        let registrations = Self.registrations(cluster)
        let directory = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = "\(directory)/tetherd.sock"
        let recorder = FirstCall()
        var etcdCluster: EtcdTestCluster?
        var etcdClient: EtcdClient?
        let chosen: any ClusterStore
        if let store {
            let address: StoreAddress
            if store == "etcd" {
                let started = try await EtcdTestCluster(directory: "\(directory)/etcd")
                etcdCluster = started
                address = try StoreAddress(started.address)
            } else {
                address = try StoreAddress(store)
            }
            guard case .etcd(let endpoints) = address else { throw ValidationError("--store takes etcd://HOST:PORT,... or etcd") }
            let client = try EtcdClient(endpoints: endpoints)
            etcdClient = client
            chosen = EtcdClusterStore(client: client, prefix: "/benchmark-\(UInt32.random(in: 0...UInt32.max))")
            print("store: \(address)")
        } else {
            chosen = try SQLiteClusterStore(path: "\(directory)/tether.sqlite")
            print("store: SQLite")
        }
        defer { etcdCluster?.killAll() }
        let controller = try await Controller(store: chosen) { registration in
            RecordingAgent(host: registration.host, recorder: recorder)
        }
        var logger = Logger(label: "benchmark", factory: TetherLogHandler.init)
        logger.logLevel = .error
        let app = Application(router: ControllerRoutes.router(controller), server: LoopAffineServer.http1(),
                              configuration: .init(address: .unixDomainSocket(path: socket)),
                              logger: logger)
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        let runner = Task { try await OperationRunner(controller).run() }
        defer { runner.cancel() }
        while !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(10)) }

        let client = ControllerClient(APIClient(.unixSocket(socket)))
        let registerStart = ContinuousClock.now
        for registration in registrations { try await client.register(registration) }
        let registerTime = ContinuousClock.now - registerStart
        print("registered \(registrations.count) hosts, \(cluster.vms.count) VMs through the API in \(ms(registerTime)) ms")

        // Dry runs: containers asking for a device on another host (migrate, forward or reject).
        let devices = registrations.flatMap { r in r.devices.map { DeviceRef(host: r.host, id: $0.id) } }
        let requests = cluster.vms.prefix(2_000).enumerated().compactMap { i, vm -> AttachRequest? in
            guard let container = vm.containers.first else { return nil }
            let device = devices[(i * 7919) % devices.count]
            return AttachRequest(container: container, device: .port(device), dryRun: true)
        }
        _ = try await client.attach(requests[0])   // the model is built once, here
        let dry = try await dryRuns(socket: socket, requests)
        let perSecond = Double(dry.latencies.count) / dry.elapsed.timeInterval
        print(String(format: "dry-run decisions: %.0f per second (%d clients, %d in %.1f s); per request p50 %@ ms, p99 %@ ms; "
                     + "CPU per decision %.0f us (clients and controller)", perSecond, clients, dry.latencies.count, dry.elapsed.timeInterval,
                     ms(percentile(dry.latencies, 50)), ms(percentile(dry.latencies, 99)), dry.cpuPerDecision))

        // Real attaches, one after another: API call to the first agent action.
        let countsBefore = etcdClient?.requestCounts
        var firstAction: [Duration] = []
        var started: [String] = []
        var used = Set<String>()
        for request in requests where firstAction.count < attaches {
            var real = request
            real.dryRun = false
            let decision = try await client.attach(AttachRequest(container: real.container, device: real.device, dryRun: true)).decision
            guard decision.action == .forward || decision.action == .migrate, used.insert(decision.vm).inserted,
                  used.insert(decision.device).inserted else { continue }
            await recorder.reset()
            let t0 = ContinuousClock.now
            let response = try await client.attach(real)
            guard let operation = response.operation else { continue }
            started.append(operation.id)
            guard let first = await recorder.wait() else { throw ValidationError("no agent was asked anything") }
            firstAction.append(first - t0)
        }
        print("real attach, API call to first agent action: p50 \(ms(percentile(firstAction, 50))) ms, p99 \(ms(percentile(firstAction, 99))) ms (\(firstAction.count) attaches)")
        if let etcdClient, let countsBefore, !firstAction.isEmpty {
            // Every attach to its end (the agents answer at once), then the requests it took.
            let polls = etcdClient.requestCounts
            for id in started {
                for _ in 0..<200 where !(try await client.operation(id).state.isFinished) { try await Task.sleep(for: .milliseconds(20)) }
            }
            let after = etcdClient.requestCounts
            let n = Double(firstAction.count)
            // The polls above read the journal too: their reads are left out.
            print(String(format: "etcd per attach, begin to finish: %.1f writes, %.1f reads (%d reads of polling left out)",
                         Double(after.writes - countsBefore.writes) / n, Double(polls.reads - countsBefore.reads) / n, after.reads - polls.reads))
        }
        await client.api.close()
        server.cancel()
        runner.cancel()
        let own = store == nil ? try await ownProcess(registrations, requests, directory: directory) : nil
        return Figures(decisionsPerSecond: perSecond, decisionP50: percentile(dry.latencies, 50).timeInterval * 1000,
                       attachP50: percentile(firstAction, 50).timeInterval * 1000, controllerProcess: own)
    }

    /// `clients` clients asking for dry runs for `seconds` (or `dryRuns` in all): each one's
    /// latency, the time taken, and this process's CPU per decision.
    func dryRuns(socket: String, _ requests: [AttachRequest]) async throws -> (latencies: [Duration], elapsed: Duration, cpuPerDecision: Double) {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let start = ContinuousClock.now
        let cpuStart = DetectorBenchmark.cpuSeconds()
        // Read once: an option's wrapped value costs more than a dry run's bookkeeping should.
        let (clients, dryRuns) = (self.clients, self.dryRuns)
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for k in 0..<clients {
                // Each client on an event loop of its own, its connection there too: the load
                // generator spends as little of the two cores as it can (no thread handoff per
                // request), as hooks and agents in processes of their own take none of them.
                group.addTask(executorPreference: EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())) {
                    let own = ControllerClient(APIClient(.unixSocket(socket)))
                    var times: [Duration] = []
                    var i = k
                    var left = dryRuns.map { ($0 + clients - 1 - k) / clients } ?? Int.max
                    let counted = dryRuns != nil
                    while counted ? left > 0 : ContinuousClock.now < deadline {
                        left -= 1
                        let t0 = ContinuousClock.now
                        _ = try await own.attach(requests[i % requests.count])
                        times.append(ContinuousClock.now - t0)
                        i += clients
                    }
                    await own.api.close()
                    return times
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        // CPU per decision in this process: steadier than the rate on a machine whose speed
        // drifts, and what a change moves.
        let cpu = (DetectorBenchmark.cpuSeconds() - cpuStart) / Double(max(latencies.count, 1)) * 1e6
        return (latencies, ContinuousClock.now - start, cpu)
    }

    /// The dry runs again, against a controller in a process of its own (`controller-serve`),
    /// as tetherd runs: its CPU per decision apart from the clients'. On a 2-core machine the
    /// clients take CPU the controller would otherwise have; its own figure says what it could
    /// answer with them elsewhere, as hooks and agents are.
    func ownProcess(_ registrations: [AgentRegistration], _ requests: [AttachRequest], directory: String) async throws -> ControllerProcess {
        let socket = "\(directory)/own.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["controller-serve", "--socket", socket, "--store", "\(directory)/own.sqlite"]
        // Its standard input: the child ends when this end closes (this process gone).
        let lifeline = Pipe()
        process.standardInput = lifeline
        try process.run()
        defer {
            process.terminate()
            for _ in 0..<500 where process.isRunning { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? lifeline.fileHandleForWriting.close()
        }
        for _ in 0..<3_000 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(10)) }
        let client = ControllerClient(APIClient(.unixSocket(socket)))
        for registration in registrations { try await client.register(registration) }
        _ = try await client.attach(requests[0])
        await client.api.close()
        let childStart = try Self.cpuSeconds(of: process.processIdentifier)
        let dry = try await dryRuns(socket: socket, requests)
        let n = Double(max(dry.latencies.count, 1))
        let figures = ControllerProcess(decisionsPerSecond: n / dry.elapsed.timeInterval,
                                        controllerCPU: (try Self.cpuSeconds(of: process.processIdentifier) - childStart) / n * 1e6,
                                        clientsCPU: dry.cpuPerDecision)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        print(String(format: "controller in a process of its own: %.0f dry-run decisions per second; CPU per decision: the controller's %.0f us, "
                     + "the clients' %.0f us; %.0f cores over the controller's figure: %.0f per second with the clients elsewhere",
                     figures.decisionsPerSecond, figures.controllerCPU, figures.clientsCPU, cores, figures.capacity))
        return figures
    }

    /// A process's user and system CPU so far.
    static func cpuSeconds(of pid: Int32) throws -> Double {
        guard let stat = ProcessStat(pid: pid) else { throw ValidationError("cannot read /proc/\(pid)/stat") }
        return stat.cpuSeconds
    }

    static func registrations(_ cluster: Cluster) -> [AgentRegistration] {
        let vmsByHost = Dictionary(grouping: cluster.vms, by: \.host)
        return cluster.hosts.enumerated().map { i, host in
            AgentRegistration(host: host.name, agentAddress: HostPort(host: "10.\(i / 250).\(i % 250).1", port: 7401), cpus: host.cpus,
                              memoryMiB: host.memoryMiB, networks: host.networks, datastores: host.datastores,
                              devices: host.devices.map {
                                  RegisteredDevice(id: $0.id, vendorId: $0.vendorId, productId: $0.productId,
                                                   periodicBytesPerSecond: $0.periodicBytesPerSecond, bulkBytesPerSecond: $0.bulkBytesPerSecond)
                              },
                              vms: (vmsByHost[host.name] ?? []).map {
                                  RegisteredVM(name: $0.name, cpus: $0.cpus, memoryMiB: $0.memoryMiB, networkMbps: $0.networkMbps,
                                               datastore: $0.datastore, containers: $0.containers)
                              })
        }
    }
}

func ms(_ d: Duration) -> String {
    String(format: "%.2f", d.timeInterval * 1000)
}

func percentile(_ values: [Duration], _ p: Int) -> Duration {
    guard !values.isEmpty else { return .zero }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, sorted.count * p / 100)]
}

/// When an agent was first asked anything since the last reset.
actor FirstCall {
    private var at: ContinuousClock.Instant?

    func reset() { at = nil }
    func note() { if at == nil { at = .now } }

    func wait() async -> ContinuousClock.Instant? {
        for _ in 0..<5_000 {
            if let at { return at }
            try? await Task.sleep(for: .microseconds(200))
        }
        return nil
    }
}

/// An agent that notes the time and answers at once.
struct RecordingAgent: HostAgent {
    let host: String
    let recorder: FirstCall

    func registration() async throws(TetherError) -> AgentRegistration {
        throw TetherError(.unsupported, "the benchmark's agents only act")
    }
    func vm(_ name: String) async throws(TetherError) -> AgentVMState? {
        await recorder.note()
        return AgentVMState(name: name, status: .running, launch: VMLaunch(name: name, memoryMiB: 128, cpus: 1), migration: nil, redirections: [])
    }
    func prepareIncoming(_ request: IncomingRequest) async throws(TetherError) -> HostPort { await recorder.note(); return HostPort(host: host, port: 1) }
    func startMigration(vm: String, to target: HostPort, target targetHost: String) async throws(TetherError) { await recorder.note() }
    func release(vm: String, movedTo target: String?) async throws(TetherError) { await recorder.note() }
    func abandonIncoming(vm: String) async throws(TetherError) { await recorder.note() }
    func export(_ request: ExportRequest) async throws(TetherError) -> HostPort { await recorder.note(); return HostPort(host: host, port: 1) }
    func stopExport(session: String) async throws(TetherError) { await recorder.note() }
    func openChannel(_ request: ChannelRequest) async throws(TetherError) { await recorder.note() }
    func closeChannel(session: String, vm: String?) async throws(TetherError) { await recorder.note() }
}
