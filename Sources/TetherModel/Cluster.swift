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

    public init(up: Bool, mbps: Int) {
        self.up = up
        self.mbps = mbps
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
