import Placement
import TetherModel

/// The small cluster the placement policy tests start from, and the round trip through a
/// cluster file that every test case takes (so the tests cover the file format too).
public enum PolicyWorld {
    public static let allUp: [NetworkRole: NetworkLink] = [
        .management: .init(up: true, mbps: 1000), .migration: .init(up: true, mbps: 10000),
        .vm: .init(up: true, mbps: 10000), .storage: .init(up: true, mbps: 10000),
    ]

    /// host-a runs vm-1 (100 Mbit/s, container cam-1) and vm-2 (container web-1); host-b has the
    /// webcam 1-3 (24,677,000 B/s) and a serial dongle 1-4 (8,000 B/s); host-c is spare.
    public static func attachBase() -> Cluster {
        Cluster(
            policy: Policy(migrateThresholdPercent: 50),
            hosts: [
                ClusterHost(name: "host-a", cpus: 16, memoryMiB: 32768, networks: allUp, datastores: ["ds1"]),
                ClusterHost(name: "host-b", cpus: 16, memoryMiB: 32768, networks: allUp, datastores: ["ds1"], devices: [
                    Device(id: "1-3", vendorId: "046d", productId: "0825", periodicBytesPerSecond: 24_677_000),
                    Device(id: "1-4", vendorId: "1a86", productId: "7523", periodicBytesPerSecond: 8_000),
                ]),
                ClusterHost(name: "host-c", cpus: 16, memoryMiB: 65536, networks: allUp, datastores: ["ds1", "ds2"],
                            devices: [Device(id: "1-1", periodicBytesPerSecond: 1_000)]),
            ],
            vms: [
                VM(name: "vm-1", host: "host-a", cpus: 4, memoryMiB: 8192, networkMbps: 100, datastore: "ds1", containers: ["cam-1"]),
                VM(name: "vm-2", host: "host-a", cpus: 2, memoryMiB: 4096, networkMbps: 1000, datastore: "ds1", containers: ["web-1"]),
            ]
        )
    }

    /// host-a runs vm-big (16 GiB), vm-mid (8 GiB) and vm-small (8 GiB, name after vm-mid);
    /// host-b (24 GiB free), host-c (20 GiB free) and host-d (16 GiB free) can take them.
    public static func failoverBase() -> Cluster {
        Cluster(
            hosts: [
                ClusterHost(name: "host-a", cpus: 32, memoryMiB: 65536, networks: allUp, datastores: ["ds1"]),
                ClusterHost(name: "host-b", cpus: 32, memoryMiB: 24576, networks: allUp, datastores: ["ds1"]),
                ClusterHost(name: "host-c", cpus: 32, memoryMiB: 20480, networks: allUp, datastores: ["ds1"]),
                ClusterHost(name: "host-d", cpus: 32, memoryMiB: 16384, networks: allUp, datastores: ["ds1", "ds2"],
                            devices: [Device(id: "2-1", periodicBytesPerSecond: 1_000)]),
            ],
            vms: [
                VM(name: "vm-small", host: "host-a", cpus: 2, memoryMiB: 8192, networkMbps: 1000, datastore: "ds1"),
                VM(name: "vm-big", host: "host-a", cpus: 4, memoryMiB: 16384, networkMbps: 1000, datastore: "ds1"),
                VM(name: "vm-mid", host: "host-a", cpus: 2, memoryMiB: 8192, networkMbps: 1000, datastore: "ds1"),
            ]
        )
    }

    /// Writes the cluster as a file and reads it back, as `tether plan` would.
    public static func throughFile(_ cluster: Cluster) throws -> ClusterIndex {
        ClusterIndex(try ClusterFile.decode(ClusterFile.encode(cluster), name: "test cluster"))
    }
}

extension Cluster {
    public mutating func host(_ name: String, _ change: (inout ClusterHost) -> Void) {
        if let i = hosts.firstIndex(where: { $0.name == name }) { change(&hosts[i]) }
    }

    public mutating func vm(_ name: String, _ change: (inout VM) -> Void) {
        if let i = vms.firstIndex(where: { $0.name == name }) { change(&vms[i]) }
    }
}
