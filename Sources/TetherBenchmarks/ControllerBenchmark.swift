import ArgumentParser
import ClusterStore
import ClusterStoreEtcd
import Foundation
import Hummingbird
import Logging
import TetherClient
import TetherModel
import Controller
import TetherHTTP
import TetherServer
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
    @Option(help: "Real attaches to time.") var attaches = 100
    @Option(help: "etcd://HOST:PORT,... : the store on etcd (under a fresh prefix) instead of SQLite; `etcd` starts one here.")
    var store: String?

    /// Dry-run decisions per second and their p50; the real attach's p50, API call to first
    /// agent action (ms).
    struct Figures {
        var decisionsPerSecond: Double
        var decisionP50: Double
        var attachP50: Double
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
        var logger = Logger(label: "benchmark")
        logger.logLevel = .error
        let app = Application(router: ControllerRoutes.router(controller), configuration: .init(address: .unixDomainSocket(path: socket)),
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
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for k in 0..<clients {
                group.addTask {
                    let own = ControllerClient(APIClient(.unixSocket(socket)))
                    var times: [Duration] = []
                    var i = k
                    while ContinuousClock.now < deadline {
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
        let elapsed = ContinuousClock.now - start
        let perSecond = Double(latencies.count) / elapsed.timeInterval
        print(String(format: "dry-run decisions: %.0f per second (%d clients, %d in %.1f s); per request p50 %@ ms, p99 %@ ms",
                     perSecond, clients, latencies.count, seconds, ms(percentile(latencies, 50)), ms(percentile(latencies, 99))))

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
        return Figures(decisionsPerSecond: perSecond, decisionP50: percentile(latencies, 50).timeInterval * 1000,
                       attachP50: percentile(firstAction, 50).timeInterval * 1000)
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
