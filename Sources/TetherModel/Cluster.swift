/// The cluster as `tether plan` and the placement engine see it: shared/spec/placement.md's
/// cluster file, decoded and validated. Plain values; names are unique within their kind.
public struct Cluster: Sendable, Equatable {
    public var policy: Policy
    public var hosts: [ClusterHost]
    public var vms: [VM]
    public var rules: [Rule]

    public init(policy: Policy = .init(), hosts: [ClusterHost], vms: [VM], rules: [Rule] = []) {
        self.policy = policy
        self.hosts = hosts
        self.vms = vms
        self.rules = rules
    }
}

public struct Policy: Sendable, Equatable {
    /// Migrate when the device needs more than this share of the VM's allocated bandwidth.
    public var migrateThresholdPercent: Int

    public init(migrateThresholdPercent: Int = 50) {
        self.migrateThresholdPercent = migrateThresholdPercent
    }
}

/// The four networks a host has, by role.
public enum NetworkRole: String, Sendable, CaseIterable, Codable, CodingKeyRepresentable, Comparable {
    case management, migration, vm, storage

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public struct NetworkLink: Sendable, Equatable, Codable {
    public var up: Bool
    public var mbps: Int
    /// This host's address on the network (an agent's configuration; a cluster file for `tether
    /// plan` may leave it out). Migrations go to the migration address, device channels to the
    /// VM network's, the API and heartbeats to management's.
    public var address: String?

    public init(up: Bool, mbps: Int, address: String? = nil) {
        self.up = up
        self.mbps = mbps
        self.address = address
    }

    enum CodingKeys: String, CodingKey { case up, mbps, address }

    /// `up` may be left out: a network with an address is up until health says otherwise.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        up = try c.decodeIfPresent(Bool.self, forKey: .up) ?? true
        mbps = try c.decode(Int.self, forKey: .mbps)
        address = try c.decodeIfPresent(String.self, forKey: .address)
    }
}

/// A datastore as one host reaches it: shared block storage by name, with this host's IO paths
/// to it (NBD URIs, `nbd://10.83.0.1:10809`), in the order they are tried. In an agent's
/// configuration a bare name is a datastore without paths (its disks are local files).
public struct DatastoreAccess: Sendable, Equatable, Codable {
    public var name: String
    public var paths: [String]

    public init(name: String, paths: [String] = []) {
        self.name = name
        self.paths = paths
    }

    enum CodingKeys: String, CodingKey { case name, paths }

    public init(from decoder: any Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            self.init(name: name)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), paths: try c.decodeIfPresent([String].self, forKey: .paths) ?? [])
    }
}

public struct ClusterHost: Sendable, Equatable {
    public var name: String
    public var cpus: Int
    public var memoryMiB: Int
    /// A network missing here is absent, which counts as down.
    public var networks: [NetworkRole: NetworkLink]
    /// Datastores this host has at least one working IO path to.
    public var datastores: [String]
    public var devices: [Device]

    public init(name: String, cpus: Int, memoryMiB: Int, networks: [NetworkRole: NetworkLink] = [:],
                datastores: [String] = [], devices: [Device] = []) {
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.networks = networks
        self.datastores = datastores
        self.devices = devices
    }

    public func isUp(_ role: NetworkRole) -> Bool { networks[role]?.up == true }
    /// A host is up when its management network is up.
    public var isUp: Bool { isUp(.management) }
}

public struct Device: Sendable, Equatable {
    /// Bus-port path on its host (`1-3`), unique per host.
    public var id: String
    public var vendorId: String?
    public var productId: String?
    public var periodicBytesPerSecond: Int
    public var bulkBytesPerSecond: Int

    public init(id: String, vendorId: String? = nil, productId: String? = nil, periodicBytesPerSecond: Int, bulkBytesPerSecond: Int = 0) {
        self.id = id
        self.vendorId = vendorId
        self.productId = productId
        self.periodicBytesPerSecond = periodicBytesPerSecond
        self.bulkBytesPerSecond = bulkBytesPerSecond
    }

    /// What forwarding it costs, in bits per second.
    public var requiredBitsPerSecond: Int { (periodicBytesPerSecond + bulkBytesPerSecond) * 8 }
}

/// A device named across the cluster: `HOST/ID`.
public struct DeviceRef: Sendable, Hashable, CustomStringConvertible, Comparable {
    public var host: String
    public var id: String

    public init(host: String, id: String) {
        self.host = host
        self.id = id
    }

    /// Parses `HOST/ID`; the ID may itself not contain a slash.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(host: String(parts[0]), id: String(parts[1]))
    }

    public var description: String { "\(host)/\(id)" }
    public static func < (a: Self, b: Self) -> Bool { a.description < b.description }
}

/// Encoded as `HOST/ID`, as people write it.
extension DeviceRef: TextCoded {
    public init(text: String) throws(TetherError) {
        guard let ref = DeviceRef(text) else { throw TetherError(.invalidArgument, "'\(text)' is not HOST/PORT") }
        self = ref
    }
}

public struct VM: Sendable, Equatable {
    public var name: String
    public var host: String
    public var cpus: Int
    public var memoryMiB: Int
    /// Network bandwidth allocated to the VM.
    public var networkMbps: Int
    public var datastore: String
    public var containers: [String]
    /// Devices already attached to it.
    public var devices: [DeviceRef]

    public init(name: String, host: String, cpus: Int, memoryMiB: Int, networkMbps: Int, datastore: String,
                containers: [String] = [], devices: [DeviceRef] = []) {
        self.name = name
        self.host = host
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.networkMbps = networkMbps
        self.datastore = datastore
        self.containers = containers
        self.devices = devices
    }
}

public enum Rule: Sendable, Equatable {
    /// `must`: the VM may run only on these hosts; otherwise it should, by preference.
    case vmHost(vm: String, hosts: [String], must: Bool)
    /// These VMs never share a host.
    case antiAffinity(vms: [String])
}
