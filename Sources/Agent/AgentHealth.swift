import Failover
import Foundation
import Health
import Logging
import ServiceLifecycle
import TetherModel

/// The host's health, measured (shared/spec/ha.md): a failure detector on every network with an
/// address, exchanging UDP with the peers' agents there; the kernel's state of each network's
/// link (netlink); a heartbeat record written on every datastore through every path (the write
/// is the path's probe), and the peers' records read back to see whose still advance. A Service:
/// it owns every monitor's task, and `report()` is what the heartbeat carries.
public final class AgentHealth: HealthSource, Service {
    public struct Settings: Sendable {
        public var port: Int = MembershipTransport.defaultPort
        public var detector = FailureDetector.Settings()
        public var path = DatastorePathMonitor.Settings()
        /// How often the peers' heartbeat records are read.
        public var readEvery: Duration = .milliseconds(500)

        /// Every probe, write and read once per `period` (the spec's 500 ms).
        public init(period: Duration = .milliseconds(500)) {
            detector.period = period
            path.period = period
            // The peers' records matter at the dead time (10 s): every 2 s is plenty, and each
            // read is the whole 1 MiB region (parsing it was most of an idle agent's CPU).
            readEvery = period * 4
        }
    }

    let host: String
    let networks: [NetworkRole: String]
    let datastores: [DatastoreAccess]
    let settings: Settings
    let logger: Logger
    let links = LinkMonitor()
    let monitors: [NetworkRole: NetworkHealthMonitor]
    let paths: [(datastore: String, uri: String, monitor: DatastorePathMonitor)]
    /// Called with every path that changed state, and for a path down, its last success (the
    /// agent moves its VMs' disks off a dead one, or their VMs off the host).
    let pathChanged: @Sendable (String, String, HealthState, Date?) async -> Void
    private let book = Book()
    /// Where the host's own view is written on every change, for operators on the host.
    let reportFile: String?

    public init(host: String, networks: [NetworkRole: NetworkLink], datastores: [DatastoreAccess], settings: Settings = Settings(),
                reportFile: String?, logger: Logger, pathChanged: @escaping @Sendable (String, String, HealthState, Date?) async -> Void) {
        self.host = host
        self.networks = networks.compactMapValues(\.address)
        self.datastores = datastores
        self.settings = settings
        self.logger = logger
        self.reportFile = reportFile
        self.pathChanged = pathChanged
        var monitors: [NetworkRole: NetworkHealthMonitor] = [:]
        for (role, address) in self.networks {
            monitors[role] = NetworkHealthMonitor(network: role.rawValue, host: host, local: HostPort(host: address, port: settings.port), peers: [:],
                                                  links: links, settings: .init(detector: settings.detector))
        }
        self.monitors = monitors
        var paths: [(String, String, DatastorePathMonitor)] = []
        for store in datastores {
            for (index, uri) in store.paths.enumerated() {
                guard let endpoint = try? NBDEndpoint(uri: uri, export: DatastoreHeartbeats.export) else { continue }
                paths.append((store.name, uri, DatastorePathMonitor(endpoint: endpoint.with(export: DatastoreHeartbeats.export),
                                                                    writer: HeartbeatWriter(host: host, path: index), settings: settings.path)))
            }
        }
        self.paths = paths
    }

    public func updatePeers(_ peers: [PeerHost]) async {
        for (role, monitor) in monitors {
            var addresses: [String: HostPort] = [:]
            for peer in peers { if let address = peer.addresses[role] { addresses[peer.host] = HostPort(host: address, port: settings.port) } }
            monitor.updatePeers(addresses)
        }
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [links, logger] in
                do { try await links.run() } catch { logger.error("netlink: \(error)") }
            }
            for (role, monitor) in monitors {
                group.addTask { [logger] in
                    do { try await monitor.run() } catch { logger.error("\(role.rawValue) network monitor: \(error)") }
                }
                group.addTask { [logger] in
                    for await change in monitor.changes {
                        logger.notice("network \(role.rawValue) \(change.state.rawValue)", metadata: ["link": "\(change.linkUp)",
                                      "peers": "\(change.peers.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.rawValue)" })"])
                        self.book.networkChanged(role, at: change.time)
                        self.changed()
                    }
                }
            }
            for path in paths {
                group.addTask { await path.monitor.run() }
                group.addTask { [logger] in
                    for await change in path.monitor.changes {
                        logger.notice("datastore \(path.datastore) path \(path.uri) \(change.state.rawValue)",
                                      metadata: ["reason": "\(change.reason ?? "-")"])
                        self.book.pathChanged(path.uri, at: change.time)
                        self.changed()
                        let up = change.state == .up
                        // Down is declared `downAfter` after the last success.
                        let lastSuccess = up ? nil : change.time.addingTimeInterval(-self.settings.path.downAfter.timeInterval)
                        await self.pathChanged(path.datastore, path.uri, up ? .up : .down, lastSuccess)
                    }
                }
            }
            group.addTask { await self.readPeersRecords() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Reads each datastore's heartbeat region through a working path, so that the report says
    /// whose records advance (a host silent on every network whose records advance is isolated).
    private func readPeersRecords() async {
        var progress: [String: HeartbeatProgress] = [:]
        while !Task.isCancelled {
            for store in datastores {
                let working = paths.filter { $0.datastore == store.name && $0.monitor.state == .up }
                guard let path = working.first else { continue }
                let records = await Task.detached { () -> [HeartbeatWriter: HeartbeatRecord]? in
                    guard let client = try? NBDClient(path.monitor.endpoint, timeout: .seconds(1)) else { return nil }
                    defer { client.disconnect() }
                    return try? DatastoreHeartbeats.read(through: client)
                }.value
                guard let records else { continue }
                var seen = progress[store.name] ?? HeartbeatProgress(timeout: settings.readEvery * 2 + settings.path.downAfter)
                let now = Date()
                seen.observe(records.values, at: now)
                progress[store.name] = seen
                var peers: [String: Bool] = [:]
                for (writer, verdict) in seen.verdicts(at: now) where writer.host != host {
                    switch verdict {
                    case .advancing: peers[writer.host] = true
                    case .stalled: peers[writer.host] = peers[writer.host] ?? false
                    case .unknown: break
                    }
                }
                book.setPeers(peers, on: store.name)
            }
            try? await Task.sleep(for: settings.readEvery)
        }
    }

    public func report() async -> HostHealthReport {
        let now = Date()
        var networkReports: [NetworkRole: NetworkReport] = [:]
        for (role, monitor) in monitors {
            let snapshot = monitor.snapshot
            networkReports[role] = NetworkReport(state: HealthState(rawValue: snapshot.state.rawValue) ?? .unknown, address: networks[role],
                                                 link: snapshot.linkUp, peers: snapshot.peers.compactMapValues { PeerState(rawValue: $0.rawValue) },
                                                 since: book.networkSince(role))
        }
        // The storage network has a link per path: one path down and another up is `partial`
        // (the spec's example), whatever the detector on the first link says.
        if var storage = networkReports[.storage], !paths.isEmpty {
            let states = Set(paths.map { $0.monitor.state })
            if states.contains(.up) && states.contains(.down) { storage.state = .partial }
            networkReports[.storage] = storage
        }
        let stores = datastores.map { store in
            DatastoreReport(name: store.name, paths: paths.filter { $0.datastore == store.name }.map { path in
                PathReport(uri: path.uri, state: path.monitor.state.map { $0 == .up ? .up : .down } ?? .unknown, since: book.pathSince(path.uri),
                           lastSuccess: path.monitor.lastHeartbeat?.time)
            }, peers: book.peers(on: store.name))
        }
        return HostHealthReport(at: now, networks: networkReports, datastores: stores)
    }

    /// Whether anything changed since the last call: the heartbeat goes at once then, so the
    /// controller knows within the detection time, not a period later.
    public func takeChange() -> Bool { book.takeChange() }

    private func changed() {
        book.markChanged()
        writeReport()
    }

    private func writeReport() {
        guard let reportFile else { return }
        Task {
            let report = await self.report()
            let encoder = APIJSON.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            guard let data = try? encoder.encode(report) else { return }
            try? data.write(to: URL(fileURLWithPath: reportFile), options: .atomic)
        }
    }

    /// The times of the last changes, and the peers' datastore records, behind a lock.
    private final class Book: @unchecked Sendable {
        private let lock = NSLock()
        private var networks: [NetworkRole: Date] = [:]
        private var paths: [String: Date] = [:]
        private var peers: [String: [String: Bool]] = [:]
        private var pending = false

        func markChanged() { lock.withLock { pending = true } }
        func takeChange() -> Bool {
            lock.withLock {
                defer { pending = false }
                return pending
            }
        }

        func networkChanged(_ role: NetworkRole, at time: Date) { lock.withLock { networks[role] = time } }
        func pathChanged(_ uri: String, at time: Date) { lock.withLock { paths[uri] = time } }
        func setPeers(_ seen: [String: Bool], on store: String) { lock.withLock { peers[store] = seen } }
        func networkSince(_ role: NetworkRole) -> Date? { lock.withLock { networks[role] } }
        func pathSince(_ uri: String) -> Date? { lock.withLock { paths[uri] } }
        func peers(on store: String) -> [String: Bool] { lock.withLock { peers[store] ?? [:] } }
    }
}
