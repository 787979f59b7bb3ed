import ClusterStoreEtcd
import Foundation
import TetherModel
import TetherSystem

/// A real etcd (Debian's etcd-server) on the loopback for tests: one member, or three for the
/// fault tests, each with its data in a folder of the test's and its log beside it. Members are
/// killed with SIGKILL and started again on the same data, as a crashed machine comes back.
public final class EtcdTestCluster: @unchecked Sendable {
    public static let executable = "/usr/bin/etcd"
    public static var available: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    public struct Member: Sendable {
        public let name: String
        public let client: HostPort
        public let peer: HostPort
        /// Its own network namespace, when it is not the cluster's.
        public var namespace: String? = nil
    }

    public let directory: String
    public let members: [Member]
    /// A network namespace the members run in (a test cluster's controller namespace).
    public let namespace: String?
    /// Clients must present a certificate from `ca`; the members serve `cert` (HTTPS).
    public let tls: (ca: String, cert: String, key: String)?
    private let lock = NSLock()
    private var processes: [String: ChildProcess] = [:]

    /// Starts `size` members and waits until the cluster answers a write (in a `namespace`, the
    /// caller's controllers wait for it instead: this process cannot reach into it).
    /// `placement`: each member's address and namespace (a member cut off by its link); default:
    /// every member on 127.0.0.1 in `namespace`.
    public init(size: Int = 1, directory: String, namespace: String? = nil, tls: (ca: String, cert: String, key: String)? = nil,
                placement: [(host: String, namespace: String?)]? = nil) async throws {
        self.directory = directory
        self.namespace = namespace
        self.tls = tls
        var members: [Member] = []
        for i in 1...size {
            let host = placement?[i - 1].host ?? "127.0.0.1"
            members.append(Member(name: "e\(i)", client: HostPort(host: host, port: try QEMUTestbed.freePort()),
                                  peer: HostPort(host: host, port: try QEMUTestbed.freePort()), namespace: placement?[i - 1].namespace))
        }
        self.members = members
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for member in members { try await start(member.name, fresh: true) }
        if namespace == nil, tls == nil { try await waitUntilWritable() }
    }

    /// `etcd://HOST:PORT,...` of every member.
    public var address: String { "etcd://" + members.map(\.client.description).joined(separator: ",") }
    public var endpoints: [HostPort] { members.map(\.client) }

    public func client(timeout: Duration = .seconds(3)) throws -> EtcdClient {
        try EtcdClient(endpoints: endpoints, timeout: timeout)
    }

    /// Starts `tetherd --role controller` named `name` on this etcd, its socket `DIRECTORY/NAME.sock`,
    /// and waits until it is ready (leading or standing by).
    public func startController(_ name: String, in directory: String, leaseSeconds: Int = 2) async throws -> BackgroundProcess {
        try """
            role: controller
            controller:
              name: \(name)
              socket: \(directory)/\(name).sock
              store: \(address)
              etcd: {leaseSeconds: \(leaseSeconds)}
            """.write(toFile: "\(directory)/\(name).yaml", atomically: true, encoding: .utf8)
        let process = try await BackgroundProcess(Tools.product("tetherd"), ["--config", "\(directory)/\(name).yaml"])
        guard process.waitForOutput("controller ready", timeout: 30) else {
            process.kill()
            throw TetherError(.timeout, "controller \(name) did not start: \(process.output)")
        }
        return process
    }

    public func start(_ name: String, fresh: Bool = false) async throws {
        guard let member = members.first(where: { $0.name == name }) else { throw TetherError(.notFound, "no etcd member \(name)") }
        let log = open("\(directory)/\(name).log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        defer { close(log) }
        let cluster = members.map { "\($0.name)=http://\($0.peer)" }.joined(separator: ",")
        let scheme = tls == nil ? "http" : "https"
        let secure = tls.map { ["--cert-file", $0.cert, "--key-file", $0.key, "--trusted-ca-file", $0.ca, "--client-cert-auth"] } ?? []
        let space = member.namespace ?? namespace
        let wrapper = space.map { ["ip", "netns", "exec", $0, Self.executable] } ?? []
        let process = try await ChildProcess.start(space == nil ? Self.executable : "/usr/bin/env", wrapper + [
            "--name", name, "--data-dir", "\(directory)/\(name).etcd",
            "--listen-client-urls", "\(scheme)://\(member.client)", "--advertise-client-urls", "\(scheme)://\(member.client)",
            "--listen-peer-urls", "http://\(member.peer)", "--initial-advertise-peer-urls", "http://\(member.peer)",
            "--initial-cluster", cluster, "--initial-cluster-state", fresh ? "new" : "existing",
            "--initial-cluster-token", "tether-test", "--log-level", "warn",
        ] + secure, output: log)
        lock.withLock { processes[name] = process }
    }

    /// SIGKILL: the member stops at once, as its machine would.
    public func kill(_ name: String) async {
        guard let process = lock.withLock({ processes.removeValue(forKey: name) }) else { return }
        process.signal(SIGKILL)
        _ = await process.waitForExit(timeout: .seconds(5))
    }

    public func stop() async {
        for name in lock.withLock({ Array(processes.keys) }) { await kill(name) }
    }

    /// SIGKILL to every member, without waiting: for `defer` and `deinit`.
    public func killAll() {
        for process in lock.withLock({ () -> [ChildProcess] in defer { processes = [:] }; return Array(processes.values) }) {
            process.signal(SIGKILL)
        }
    }

    deinit { killAll() }

    /// Waits until a write through any member goes through (a new cluster elects its leader).
    public func waitUntilWritable(within limit: Duration = .seconds(20)) async throws {
        let client = try client(timeout: .seconds(2))
        defer { Task { await client.close() } }
        let deadline = ContinuousClock.now + limit
        var last: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                try await client.put("/readiness", "\(ContinuousClock.now)")
                return
            } catch {
                last = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw TetherError(.timeout, "etcd in \(directory) did not take a write within \(limit)",
                          cause: ([last.map { "client: \($0)" } ?? "client: no error"] + membersState()).joined(separator: "\n"))
    }

    /// Each member: running or how it ended, and the end of its log, for a failure's message
    /// (the test's folder is gone by the time anyone reads a CI log).
    private func membersState() -> [String] {
        members.map { member in
            let process = lock.withLock { processes[member.name] }
            let state = process.map { $0.terminationStatus.map { "exited with \($0)" } ?? "running" } ?? "stopped by the test"
            let log = (try? String(contentsOfFile: "\(directory)/\(member.name).log", encoding: .utf8)) ?? ""
            let tail = log.split(separator: "\n").suffix(5).joined(separator: "\n    ")
            return "\(member.name) (client \(member.client), peer \(member.peer)): \(state)\n    \(tail)"
        }
    }
}
