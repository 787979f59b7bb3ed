import Agent
import ClusterStore
import Foundation
import Hypervisor
import TetherModel
import TetherSystem
import Yams

/// tetherd's configuration file (YAML): one section per role. Every key is optional except where
/// a role cannot do without it; unknown keys are errors (a misspelled key silently ignored is a
/// setting silently lost). samples/tetherd-controller.yaml and samples/tetherd-agent.yaml show all.
public struct TetherdConfiguration: Sendable, Equatable, Decodable {
    public enum Role: String, Sendable, Codable, CaseIterable { case controller, agent }

    public var role: Role?
    public var controller: ControllerSection?
    public var agent: AgentSection?

    public struct TLSSection: Sendable, Equatable, Codable {
        /// A `tether certs` directory: ca.crt, and NAME.crt with NAME.key.
        public var directory: String
        /// This daemon's certificate name (default: `controller`, or the agent's host).
        public var name: String?
    }

    /// How a controller reaches etcd (`store: etcd://...`): TLS with a client certificate, the
    /// key prefix, and the leader's lease.
    public struct EtcdSection: Sendable, Equatable, Decodable {
        /// The CA of etcd's members, and this controller's client certificate and key; none: plain HTTP.
        public var ca: String?
        public var cert: String?
        public var key: String?
        /// Every key Tether writes is under it: several clusters can share one etcd.
        public var prefix: String = "/tether"
        /// The leader's lease: a dead leader is replaced within about this plus a second.
        public var leaseSeconds: Int = 2

        enum CodingKeys: String, CodingKey, CaseIterable { case ca, cert, key, prefix, leaseSeconds }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            ca = try c.decodeIfPresent(String.self, forKey: .ca)
            cert = try c.decodeIfPresent(String.self, forKey: .cert)
            key = try c.decodeIfPresent(String.self, forKey: .key)
            prefix = try c.decodeIfPresent(String.self, forKey: .prefix) ?? prefix
            leaseSeconds = try c.decodeIfPresent(Int.self, forKey: .leaseSeconds) ?? leaseSeconds
            guard (ca == nil) == (cert == nil), (cert == nil) == (key == nil) else {
                throw DecodingError.dataCorruptedError(forKey: .ca, in: c, debugDescription: "etcd TLS needs all three of ca, cert and key")
            }
            guard (2...60).contains(leaseSeconds) else {
                throw DecodingError.dataCorruptedError(forKey: .leaseSeconds, in: c,
                                                       debugDescription: "leaseSeconds must be 2 (etcd's least) to 60, not \(leaseSeconds)")
            }
            guard prefix.hasPrefix("/"), prefix.count > 1 else {
                throw DecodingError.dataCorruptedError(forKey: .prefix, in: c, debugDescription: "prefix must start with / and name something, not '\(prefix)'")
            }
        }
    }

    public struct ControllerSection: Sendable, Equatable, Decodable {
        /// This controller among several (`tether status`); default: the machine's host name.
        public var name: String = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "controller"
        /// The local API for the CLI and the OCI hook.
        public var socket: String = "/run/tether/tetherd.sock"
        /// The mutual-TLS API for agents and remote operators; none: local only.
        public var listen: HostPort?
        /// A path (SQLite, one controller) or `etcd://HOST:PORT,HOST:PORT,...` (as many
        /// controllers as the operator likes, one leading).
        public var store: String = "/var/lib/tether/tether.sqlite"
        public var etcd: EtcdSection?
        public var tls: TLSSection?
        public var migrateThresholdPercent: Int = 50
        /// A host not heard for this long is down for placement, and asked after (shared/spec/ha.md: 2 s).
        public var heartbeatTimeoutSeconds: Double = 2
        /// A host silent this long on every network and datastore is dead (the spec's 10 s).
        public var deadAfterSeconds: Double = 10
        public var stepDeadlineSeconds: Double = 60
        /// Plain HTTP, for Prometheus: GET /metrics.
        public var metrics: HostPort?
        /// The web view's listener for a browser: on the loopback, plain HTTP where everyone who
        /// connects views (read only); elsewhere mutual TLS, the browser showing an operator's or
        /// a viewer's certificate (`tether certs issue --role viewer`).
        public var web: HostPort?
        /// A move over the management network (a host's migration network lost) takes at most
        /// this share of that network, so that heartbeats and the API keep flowing.
        public var managementMigrationPercent: Int = 50
        /// A guest that crashed and was restarted this many times within `crashWindowSeconds`
        /// is held back (left as it crashed, reported) at its next crash.
        public var crashRestartLimit: Int = 3
        public var crashWindowSeconds: Double = 3600
        public var devices = DevicesSection()
        /// Who may use the local socket besides root: the members of these groups (names or
        /// numbers; groups the system does not have are left out). Operators attach and
        /// detach; viewers read. Everyone else is refused with 403.
        public var localAccess = LocalAccessSection()

        public struct LocalAccessSection: Sendable, Equatable, Codable {
            public var operators: [String] = ["tether"]
            public var viewers: [String] = ["tether-view"]

            public init() {}

            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                operators = try c.decodeIfPresent([String].self, forKey: .operators) ?? operators
                viewers = try c.decodeIfPresent([String].self, forKey: .viewers) ?? viewers
            }
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case devices, localAccess
            case name, etcd, socket, listen, store, tls, migrateThresholdPercent, heartbeatTimeoutSeconds, deadAfterSeconds, stepDeadlineSeconds, metrics
            case managementMigrationPercent, crashRestartLimit, crashWindowSeconds, web
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? name
            guard APINames.isValid(name) else {
                throw DecodingError.dataCorruptedError(forKey: .name, in: c, debugDescription: "controller name '\(name)' \(APINames.rule)")
            }
            etcd = try c.decodeIfPresent(EtcdSection.self, forKey: .etcd)
            socket = try c.decodeIfPresent(String.self, forKey: .socket) ?? socket
            listen = try c.decodeIfPresent(HostPort.self, forKey: .listen)
            store = try c.decodeIfPresent(String.self, forKey: .store) ?? store
            do { _ = try StoreAddress(store) } catch {
                throw DecodingError.dataCorruptedError(forKey: .store, in: c, debugDescription: error.message)
            }
            tls = try c.decodeIfPresent(TLSSection.self, forKey: .tls)
            migrateThresholdPercent = try c.decodeIfPresent(Int.self, forKey: .migrateThresholdPercent) ?? migrateThresholdPercent
            heartbeatTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .heartbeatTimeoutSeconds) ?? heartbeatTimeoutSeconds
            deadAfterSeconds = try c.decodeIfPresent(Double.self, forKey: .deadAfterSeconds) ?? deadAfterSeconds
            stepDeadlineSeconds = try c.decodeIfPresent(Double.self, forKey: .stepDeadlineSeconds) ?? stepDeadlineSeconds
            metrics = try c.decodeIfPresent(HostPort.self, forKey: .metrics)
            web = try c.decodeIfPresent(HostPort.self, forKey: .web)
            managementMigrationPercent = try c.decodeIfPresent(Int.self, forKey: .managementMigrationPercent) ?? managementMigrationPercent
            crashRestartLimit = try c.decodeIfPresent(Int.self, forKey: .crashRestartLimit) ?? crashRestartLimit
            crashWindowSeconds = try c.decodeIfPresent(Double.self, forKey: .crashWindowSeconds) ?? crashWindowSeconds
            devices = try c.decodeIfPresent(DevicesSection.self, forKey: .devices) ?? devices
            localAccess = try c.decodeIfPresent(LocalAccessSection.self, forKey: .localAccess) ?? localAccess
            guard crashRestartLimit >= 0, crashWindowSeconds > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .crashRestartLimit, in: c,
                                                       debugDescription: "crashRestartLimit must be 0 or more and crashWindowSeconds more than 0")
            }
            guard (1...100).contains(managementMigrationPercent) else {
                throw DecodingError.dataCorruptedError(forKey: .managementMigrationPercent, in: c,
                                                       debugDescription: "managementMigrationPercent must be 1 to 100, not \(managementMigrationPercent)")
            }
        }
    }

    public struct AgentSection: Sendable, Equatable, Decodable {
        public var host: String
        /// The controller's mutual-TLS API (the first of several: the agent asks each in turn
        /// until the leader answers).
        public var controller: HostPort
        /// The cluster's other controllers, when it has several.
        public var otherControllers: [HostPort] = []
        /// The certificate name the controller presents, the only caller this agent serves.
        public var controllerName: String = "controller"
        public var listen: HostPort = HostPort(host: "0.0.0.0", port: 7401)
        /// The address other hosts reach this one at (relays, migrations, the agent API).
        public var publicAddress: String
        public var tls: TLSSection
        public var cpus: Int?
        public var memoryMiB: Int?
        public var networks: [NetworkRole: NetworkLink] = [:]
        /// Each datastore by name, or with its IO paths: `{name: ds1, paths: [nbd://10.83.0.1:10809, ...]}`.
        public var datastores: [DatastoreAccess] = []
        public var stateDirectory: String = "/var/lib/tether/vms"
        public var exporter: String = "usbredirect"
        /// How often to heartbeat the controller and probe peers and paths (the spec's 500 ms).
        public var heartbeatSeconds: Double = 0.5
        public var migrationDowntimeLimitMs: Int?
        public var migrationMaxBandwidthMBps: Int?
        /// Quit the VMs this agent launched when it stops (a test or demo; a real host keeps them).
        public var stopVMsOnExit: Bool = false
        public var vms: [VMSection] = []
        public var metrics: HostPort?
        /// Where the udev rules' `tether notify-agent` says a device came or went (nil: not listened on).
        public var eventsSocket: String? = AgentEvents.defaultSocket
        /// Follow libusb hotplug too (off where libusb's netlink monitor sees nothing).
        public var libusbHotplug: Bool = true
        /// Report this host's own faults to the controller as they are seen (the self-triggered
        /// flows); off, only the controller's outside view starts a failover.
        public var selfTriggeredFailover: Bool = true
        /// Where the other hosts' agents reach this one when a management network is lost (a
        /// host moving its own VMs asks its targets directly). Default: the migration address,
        /// at `listen`'s port, unless `listen` already takes every address.
        public var peerListen: HostPort?
        /// Where crashed guests' crash files go, one folder per crash (default: stateDirectory/crash).
        public var crashDirectory: String?
        /// What an isolated host (no peer on any network, no datastore path, no controller) does
        /// with its VMs: `pause` them (fencing, the default), `power-off` (quit them), or `none`
        /// (they run on, and the controller never restarts them elsewhere on its own).
        public var isolationResponse: IsolationResponse = .pause
        /// From its last contact, by when an isolated host has stopped its VMs; the controller
        /// restarts them elsewhere only after the host is dead (10 s) and this has passed.
        public var isolationDeadlineSeconds: Double = 6
        /// Where the files of VMs started here on the controller's word may be (disks, RAM
        /// images): a launch naming a file elsewhere is refused. nil: /var/lib/tether/images.
        /// This host's own VMs' files are allowed too, each by its exact path.
        public var imageDirectories: [String]?

        /// The exact files this host's own VMs name (disks and RAM images given by path): a VM
        /// restarted or moved back here may use them, and nothing else beside them.
        public var ownImageFiles: [String] {
            (vms.compactMap(\.disk) + vms.flatMap { $0.memoryImages.map(\.path) }).filter { $0.hasPrefix("/") }
        }

        /// The second listener's address, if there is one.
        public var effectivePeerListen: HostPort? {
            if let peerListen { return peerListen }
            guard listen.host != "0.0.0.0", let address = networks[.migration]?.address, address != listen.host else { return nil }
            return HostPort(host: address, port: listen.port)
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, controller, controllerName, listen, publicAddress, tls, cpus, memoryMiB, networks, datastores, stateDirectory
            case exporter, heartbeatSeconds, migrationDowntimeLimitMs, migrationMaxBandwidthMBps, stopVMsOnExit, vms, metrics
            case eventsSocket, libusbHotplug, selfTriggeredFailover, peerListen, crashDirectory, isolationResponse, isolationDeadlineSeconds
            case imageDirectories
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decode(String.self, forKey: .host)
            // One controller, or several (`HOST:PORT,HOST:PORT` or a list): the agent finds the leader.
            let texts: [String]
            if let list = try? c.decode([String].self, forKey: .controller) {
                texts = list
            } else {
                texts = try c.decode(String.self, forKey: .controller).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            let controllers = try texts.map { text in
                guard let address = HostPort(text) else {
                    throw DecodingError.dataCorruptedError(forKey: .controller, in: c, debugDescription: "'\(text)' is not HOST:PORT")
                }
                return address
            }
            guard let first = controllers.first else {
                throw DecodingError.dataCorruptedError(forKey: .controller, in: c, debugDescription: "no controller address")
            }
            controller = first
            otherControllers = Array(controllers.dropFirst())
            controllerName = try c.decodeIfPresent(String.self, forKey: .controllerName) ?? controllerName
            listen = try c.decodeIfPresent(HostPort.self, forKey: .listen) ?? listen
            publicAddress = try c.decode(String.self, forKey: .publicAddress)
            tls = try c.decode(TLSSection.self, forKey: .tls)
            cpus = try c.decodeIfPresent(Int.self, forKey: .cpus)
            memoryMiB = try c.decodeIfPresent(Int.self, forKey: .memoryMiB)
            networks = try c.decodeIfPresent([NetworkRole: NetworkLink].self, forKey: .networks) ?? networks
            datastores = try c.decodeIfPresent([DatastoreAccess].self, forKey: .datastores) ?? datastores
            stateDirectory = try c.decodeIfPresent(String.self, forKey: .stateDirectory) ?? stateDirectory
            exporter = try c.decodeIfPresent(String.self, forKey: .exporter) ?? exporter
            heartbeatSeconds = try c.decodeIfPresent(Double.self, forKey: .heartbeatSeconds) ?? heartbeatSeconds
            migrationDowntimeLimitMs = try c.decodeIfPresent(Int.self, forKey: .migrationDowntimeLimitMs)
            migrationMaxBandwidthMBps = try c.decodeIfPresent(Int.self, forKey: .migrationMaxBandwidthMBps)
            stopVMsOnExit = try c.decodeIfPresent(Bool.self, forKey: .stopVMsOnExit) ?? stopVMsOnExit
            vms = try c.decodeIfPresent([VMSection].self, forKey: .vms) ?? vms
            metrics = try c.decodeIfPresent(HostPort.self, forKey: .metrics)
            libusbHotplug = try c.decodeIfPresent(Bool.self, forKey: .libusbHotplug) ?? libusbHotplug
            selfTriggeredFailover = try c.decodeIfPresent(Bool.self, forKey: .selfTriggeredFailover) ?? selfTriggeredFailover
            peerListen = try c.decodeIfPresent(HostPort.self, forKey: .peerListen)
            crashDirectory = try c.decodeIfPresent(String.self, forKey: .crashDirectory)
            imageDirectories = try c.decodeIfPresent([String].self, forKey: .imageDirectories)
            for directory in imageDirectories ?? [] {
                guard directory.hasPrefix("/") else {
                    throw DecodingError.dataCorruptedError(forKey: .imageDirectories, in: c, debugDescription: "'\(directory)' is not an absolute path")
                }
                // A root that holds the system's own files would let a launch read them into a guest.
                let trimmed = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
                if trimmed == "/" || ["/dev", "/proc", "/sys", "/etc", "/boot", "/root", "/run"].contains(where: { trimmed == $0 || trimmed.hasPrefix($0 + "/") }) {
                    throw DecodingError.dataCorruptedError(forKey: .imageDirectories, in: c, debugDescription:
                        "'\(directory)' holds the system's own files; name a directory of VM images (/var/lib/tether/images)")
                }
            }
            isolationResponse = try c.decodeIfPresent(IsolationResponse.self, forKey: .isolationResponse) ?? isolationResponse
            isolationDeadlineSeconds = try c.decodeIfPresent(Double.self, forKey: .isolationDeadlineSeconds) ?? isolationDeadlineSeconds
            guard isolationDeadlineSeconds > 0 else {
                throw DecodingError.dataCorruptedError(forKey: .isolationDeadlineSeconds, in: c, debugDescription: "isolationDeadlineSeconds must be more than 0")
            }
            if c.contains(.eventsSocket) {
                eventsSocket = try c.decodeNil(forKey: .eventsSocket) ? nil : try c.decode(String.self, forKey: .eventsSocket)
            }
            // What the API would refuse from the network is refused here, when tetherd starts,
            // rather than by the controller at registration or by QEMU at launch.
            var seen = Set<String>()
            for vm in vms {
                guard APINames.isValid(vm.name) else {
                    throw DecodingError.dataCorruptedError(forKey: .vms, in: c, debugDescription: "vm name '\(vm.name)' \(APINames.rule)")
                }
                guard seen.insert(vm.name).inserted else {
                    throw DecodingError.dataCorruptedError(forKey: .vms, in: c, debugDescription: "vm '\(vm.name)' is listed twice")
                }
                do {
                    try vm.managed(datastores: datastores).launch?.validate()
                } catch {
                    throw DecodingError.dataCorruptedError(forKey: .vms, in: c, debugDescription: error.message)
                }
                if !(0...APILimits.mbps).contains(vm.networkMbps) {
                    throw DecodingError.dataCorruptedError(forKey: .vms, in: c, debugDescription: "vm '\(vm.name)': networkMbps must be 0 to \(APILimits.mbps)")
                }
            }
        }
    }

    /// A VM the agent manages: launched from these figures, or adopted by `qmp`.
    public struct VMSection: Sendable, Equatable, Decodable {
        public var name: String
        public var cpus: Int = 1
        public var memoryMiB: Int = 128
        public var networkMbps: Int
        public var datastore: String
        public var containers: [String] = []
        public var qmp: String?
        public var disk: String?
        /// The disk image's format; without it, the image's header says (a qcow2 image is never
        /// given to the guest as raw bytes).
        public var format: DiskFormat?
        public var memoryImages: [VMLaunch.MemoryImage] = []
        /// A pvpanic device, and QEMU's action on a panic: `pause` (keep the memory to dump) or
        /// `none` (report and run on: a guest that writes its crash files after signalling).
        public var panic: String?
        /// Where on its disk the guest writes its crash files: `{firstSector, sectors, marker}`.
        public var crash: CrashRegion?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, cpus, memoryMiB, networkMbps, datastore, containers, qmp, disk, format, memoryImages, panic, crash
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            cpus = try c.decodeIfPresent(Int.self, forKey: .cpus) ?? cpus
            memoryMiB = try c.decodeIfPresent(Int.self, forKey: .memoryMiB) ?? memoryMiB
            networkMbps = try c.decode(Int.self, forKey: .networkMbps)
            datastore = try c.decode(String.self, forKey: .datastore)
            containers = try c.decodeIfPresent([String].self, forKey: .containers) ?? containers
            qmp = try c.decodeIfPresent(String.self, forKey: .qmp)
            disk = try c.decodeIfPresent(String.self, forKey: .disk)
            if let text = try c.decodeIfPresent(String.self, forKey: .format) {
                guard let known = DiskFormat(rawValue: text) else {
                    throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription:
                        "disk format '\(text)' is not one Tether runs; use \(DiskFormat.allCases.map(\.rawValue).joined(separator: " or "))")
                }
                format = known
            }
            memoryImages = try c.decodeIfPresent([VMLaunch.MemoryImage].self, forKey: .memoryImages) ?? memoryImages
            panic = try c.decodeIfPresent(String.self, forKey: .panic)
            if let panic, !["pause", "none"].contains(panic) {
                throw DecodingError.dataCorruptedError(forKey: .panic, in: c, debugDescription: "panic '\(panic)' is not pause or none")
            }
            crash = try c.decodeIfPresent(CrashRegion.self, forKey: .crash)
            do {
                try crash?.validate()
            } catch {
                throw DecodingError.dataCorruptedError(forKey: .crash, in: c, debugDescription: error.message)
            }
        }

        /// The VM as the agent manages it. Its `disk` is an export of its datastore when this
        /// host reaches that datastore by paths (`datastores`), else an image file.
        public func managed(datastores: [DatastoreAccess]) -> ManagedVMConfiguration {
            let registration = RegisteredVM(name: name, cpus: cpus, memoryMiB: memoryMiB, networkMbps: networkMbps, datastore: datastore,
                                            containers: containers)
            if let qmp { return ManagedVMConfiguration(registration: registration, qmpSocket: qmp) }
            var launch = VMLaunch(name: name, memoryMiB: memoryMiB, cpus: cpus, panicDevice: panic != nil, disk: nil)
            launch.panicAction = panic
            let shared = datastores.first { $0.name == datastore && !$0.paths.isEmpty }
            let onDatastore = shared.flatMap { store in disk.map { VMLaunch.DatastoreDisk(datastore: store.name, export: $0) } }
            launch.disk = onDatastore == nil ? disk : nil
            launch.diskFormat = format?.rawValue
            launch.memoryImages = memoryImages
            launch.datastoreDisk = onDatastore
            launch.crashRegion = crash
            return ManagedVMConfiguration(registration: registration, launch: launch)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case role, controller, agent }

    /// The keys each section takes, for the unknown-key check (maps that name things, like
    /// `networks`, are checked by their own decoding).
    static let schema: [String: Set<String>] = [
        "": Set(CodingKeys.allCases.map(\.rawValue)),
        "controller": Set(ControllerSection.CodingKeys.allCases.map(\.rawValue)),
        "agent": Set(AgentSection.CodingKeys.allCases.map(\.rawValue)),
        "controller.tls": ["directory", "name"], "controller.etcd": Set(EtcdSection.CodingKeys.allCases.map(\.rawValue)),
        "controller.devices": Set(DevicesSection.CodingKeys.allCases.map(\.rawValue)),
        "controller.localAccess": ["operators", "viewers"], "agent.tls": ["directory", "name"],
        "agent.vms[]": Set(VMSection.CodingKeys.allCases.map(\.rawValue)),
        "agent.vms[].memoryImages[]": ["path", "address"],
        "agent.vms[].crash": ["firstSector", "sectors", "marker"],
        "agent.networks.*": ["up", "mbps", "address"],
        "agent.datastores[]": ["name", "paths"],
    ]

    /// Reads and checks a configuration file; every problem is a TetherError naming the file.
    public static func load(_ path: String) throws(TetherError) -> TetherdConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TetherError(.notFound, "cannot read the configuration \(path)", cause: "\(error)")
        }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String) throws(TetherError) -> TetherdConfiguration {
        let node: Node
        do {
            guard let parsed = try Yams.compose(yaml: text) else { return TetherdConfiguration() }
            node = parsed
        } catch {
            throw TetherError(.invalidArgument, "\(source) is not valid YAML", cause: "\(error)")
        }
        var unknown: [String] = []
        checkKeys(node, path: "", into: &unknown)
        if !unknown.isEmpty {
            throw TetherError(.invalidArgument, "\(source): unknown key\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", "))")
        }
        do {
            return try YAMLDecoder().decode(TetherdConfiguration.self, from: node)
        } catch {
            throw TetherError(.invalidArgument, "\(source): \(APIJSON.describe(error))")
        }
    }

    private static func checkKeys(_ node: Node, path: String, into unknown: inout [String]) {
        switch node {
        case .mapping(let mapping):
            let allowed = schema[path]
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                let child = path.isEmpty ? name : "\(path).\(name)"
                if let allowed {
                    if !allowed.contains(name) {
                        unknown.append("'\(child)' (line \(key.mark?.line ?? 0))")
                        continue
                    }
                    checkKeys(value, path: child, into: &unknown)
                } else if schema["\(path).*"] != nil {
                    checkKeys(value, path: "\(path).*", into: &unknown)
                }
            }
        case .sequence(let sequence):
            for item in sequence { checkKeys(item, path: "\(path)[]", into: &unknown) }
        default:
            break
        }
    }

    public init() {}
}
