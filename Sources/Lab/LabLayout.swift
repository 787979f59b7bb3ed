import Foundation
import TetherModel

/// Where everything of a `tether lab` is, by the names of shared/spec/ha.md: namespaces
/// `tl-<host>`, `tl-storage` and `tl-ctl`; in each host namespace the links `mgmt0`, `mig0`,
/// `vm0`, `st0`, `st1`; one VM of the lab guest per host on datastore `ds1`. Pure: names,
/// addresses and files, from the host count and the directory.
///
/// Addresses: management 10.80.0.0/24 (the controller .1), migration 10.81.0.0/24, VM network
/// 10.82.0.0/24, storage paths 10.83.0.0/24 and 10.84.0.0/24 (the storage server .1 on each);
/// the n-th host (from 0) is .11+n on every one of them.
public struct LabLayout: Sendable, Equatable {
    public static let defaultDirectory = "/var/tmp/tether-lab"
    public static let controllerNamespace = "tl-ctl"
    public static let storageNamespace = "tl-storage"
    public static let datastore = "ds1"
    public static let heartbeatExport = "tether-heartbeats"
    public static let nbdPort = 10809
    public static let controllerPort = 7400
    public static let agentPort = 7401
    /// The controller's web view: on the loopback of its namespace, and forwarded to the same
    /// port on this machine's loopback (`http://127.0.0.1:7480`), for a browser here.
    public static let webPort = 7480
    public static let maxHosts = 8

    /// A host's end of each network: its interface in the host namespace, and the subnet.
    public struct Link: Sendable, Equatable {
        public var interface: String
        /// 80 to 84: 10.X.0.0/24.
        public var subnet: Int
        /// The namespace holding the bridge the link joins.
        public var bridgeNamespace: String
        public var bridge: String
    }

    public static let links: [Link] = [
        Link(interface: "mgmt0", subnet: 80, bridgeNamespace: controllerNamespace, bridge: "br-mgmt"),
        Link(interface: "mig0", subnet: 81, bridgeNamespace: controllerNamespace, bridge: "br-mig"),
        Link(interface: "vm0", subnet: 82, bridgeNamespace: controllerNamespace, bridge: "br-vm"),
        Link(interface: "st0", subnet: 83, bridgeNamespace: storageNamespace, bridge: "br-st0"),
        Link(interface: "st1", subnet: 84, bridgeNamespace: storageNamespace, bridge: "br-st1"),
    ]

    public let directory: String
    public let hostCount: Int

    public init(directory: String = LabLayout.defaultDirectory, hosts: Int = 3) throws(TetherError) {
        guard (1...Self.maxHosts).contains(hosts) else {
            throw TetherError(.invalidArgument, "a lab has 1 to \(Self.maxHosts) hosts, not \(hosts)")
        }
        guard directory.hasPrefix("/") else { throw TetherError(.invalidArgument, "the lab directory must be an absolute path, not '\(directory)'") }
        // The controller's socket path must fit a sockaddr_un (107 bytes).
        guard directory.utf8.count <= 80 else {
            throw TetherError(.invalidArgument, "the lab directory '\(directory)' is too long for its unix sockets (80 bytes at most)")
        }
        // No trailing slash: `lab down` kills what has "DIR/" on its command line, and must not
        // match its own `--dir DIR`.
        var trimmed = directory
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.directory = trimmed
        self.hostCount = hosts
    }

    public var hosts: [String] { (0..<hostCount).map { "host-\(Self.letter($0))" } }
    public func vm(of hostIndex: Int) -> String { "vm-\(Self.letter(hostIndex))" }
    public static func namespace(of host: String) -> String { "tl-\(host)" }

    static func letter(_ index: Int) -> String { String(UnicodeScalar(UInt8(97 + index))) }

    public static func address(subnet: Int, hostIndex: Int) -> String { "10.\(subnet).0.\(11 + hostIndex)" }
    public static var controllerAddress: String { "10.80.0.1" }
    public static var storagePaths: [String] { ["nbd://10.83.0.1:\(nbdPort)", "nbd://10.84.0.1:\(nbdPort)"] }

    public func addresses(of hostIndex: Int) -> LabManifest.Addresses {
        LabManifest.Addresses(management: Self.address(subnet: 80, hostIndex: hostIndex), migration: Self.address(subnet: 81, hostIndex: hostIndex),
                              vm: Self.address(subnet: 82, hostIndex: hostIndex),
                              storage: [Self.address(subnet: 83, hostIndex: hostIndex), Self.address(subnet: 84, hostIndex: hostIndex)])
    }

    // MARK: files

    public var manifestPath: String { "\(directory)/lab.json" }
    public var pki: String { "\(directory)/pki" }
    public var controllerDirectory: String { "\(directory)/ctl" }
    public var controllerSocket: String { "\(controllerDirectory)/tetherd.sock" }
    public var storageDirectory: String { "\(directory)/storage" }
    public func hostDirectory(_ host: String) -> String { "\(directory)/\(host)" }
    public func crashDirectory(_ host: String) -> String { "\(hostDirectory(host))/crash" }
    public func image(of vm: String) -> String { "\(storageDirectory)/\(vm).raw" }
    public var heartbeatImage: String { "\(storageDirectory)/\(Self.heartbeatExport).raw" }
    public func pidFile(_ name: String) -> String { "\(directory)/run/\(name).pid" }
    public func log(_ name: String) -> String { "\(directory)/log/\(name).log" }

    /// What `lab.json` says (shared/spec/ha.md).
    public var manifest: LabManifest {
        LabManifest(directory: directory, controllerSocket: controllerSocket,
                    controller: .init(namespace: Self.controllerNamespace, address: Self.controllerAddress, directory: controllerDirectory),
                    hosts: hosts.enumerated().map { i, host in
                        LabManifest.Host(name: host, namespace: Self.namespace(of: host), addresses: addresses(of: i),
                                         crashDirectory: crashDirectory(host), stateDirectory: hostDirectory(host))
                    },
                    storage: .init(namespace: Self.storageNamespace, paths: Self.storagePaths, datastore: Self.datastore,
                                   directory: storageDirectory),
                    vms: hosts.enumerated().map { i, host in LabManifest.VM(name: vm(of: i), host: host, image: image(of: vm(of: i))) })
    }
}

/// `DIR/lab.json`: where everything of a lab is, for operators and for checks from outside.
public struct LabManifest: Sendable, Equatable, Codable {
    public var directory: String
    public var controllerSocket: String
    public var controller: Controller
    public var hosts: [Host]
    public var storage: Storage
    public var vms: [VM]

    public struct Controller: Sendable, Equatable, Codable {
        public var namespace: String
        public var address: String
        public var directory: String
    }

    public struct Addresses: Sendable, Equatable, Codable {
        public var management: String
        public var migration: String
        public var vm: String
        /// One per storage path.
        public var storage: [String]
    }

    public struct Host: Sendable, Equatable, Codable {
        public var name: String
        public var namespace: String
        public var addresses: Addresses
        public var crashDirectory: String
        public var stateDirectory: String
    }

    public struct Storage: Sendable, Equatable, Codable {
        public var namespace: String
        /// The datastore's paths, as the hosts reach them.
        public var paths: [String]
        public var datastore: String
        public var directory: String
    }

    public struct VM: Sendable, Equatable, Codable {
        public var name: String
        /// Where it started.
        public var host: String
        /// The raw image behind its export.
        public var image: String
    }

    public static func load(from path: String) throws(TetherError) -> LabManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TetherError(.notFound, "no lab at \(path): `tether lab up` makes one (--dir for another directory)")
        }
        do { return try JSONDecoder().decode(LabManifest.self, from: data) } catch {
            throw TetherError(.invalidArgument, "\(path) is not a lab manifest", cause: "\(error)")
        }
    }
}
