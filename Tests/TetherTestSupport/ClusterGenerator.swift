import Foundation
import TetherModel

/// Realistic clusters made from a seed: racks of hosts sharing datastores, VMs that fit, USB
/// devices from a catalogue of real figures, some attached across hosts, rules, and (when asked)
/// networks that are down. The same seed always gives the same cluster.
public struct ClusterGenerator: Sendable {
    public var hosts: Int
    public var vmsPerHost: Int
    /// Chance, in percent, that any one network of a host is down.
    public var downPercent: Int = 0
    /// Chance, in percent, that a VM gets a rule.
    public var rulePercent: Int = 10

    public init(hosts: Int, vmsPerHost: Int, downPercent: Int = 0, rulePercent: Int = 10) {
        self.hosts = hosts
        self.vmsPerHost = vmsPerHost
        self.downPercent = downPercent
        self.rulePercent = rulePercent
    }

    /// (vendor, product, periodic B/s, bulk B/s): a webcam, a serial dongle, an SDR, a licence key.
    static let catalogue: [(String, String, Int, Int)] = [
        ("046d", "0825", 24_677_000, 0), ("1a86", "7523", 8_000, 2_000), ("0bda", "2838", 0, 4_800_000), ("0529", "0001", 0, 500),
    ]

    public func generate(seed: UInt64) -> Cluster {
        var rng = SplitMix64(seed: seed)
        func roll(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        let width = max(4, String(hosts).count)
        let rackSize = 8
        var hostList: [ClusterHost] = []
        hostList.reserveCapacity(hosts)
        for h in 0..<hosts {
            let rack = h / rackSize
            var networks: [NetworkRole: NetworkLink] = [:]
            for role in NetworkRole.allCases {
                networks[role] = NetworkLink(up: roll(100) >= downPercent, mbps: role == .management ? 1000 : 10000)
            }
            let devices = (0..<roll(3)).map { d -> Device in
                let (vendor, product, periodic, bulk) = Self.catalogue[roll(Self.catalogue.count)]
                return Device(id: "1-\(d + 1)", vendorId: vendor, productId: product, periodicBytesPerSecond: periodic, bulkBytesPerSecond: bulk)
            }
            // Each rack reaches its own datastore and its neighbour's, so datastores overlap.
            hostList.append(ClusterHost(name: "host-" + pad(h, width), cpus: 32 + 16 * roll(3), memoryMiB: 131_072 * (1 + roll(2)),
                                 networks: networks, datastores: ["ds-\(rack)", "ds-\(rack + 1)"], devices: devices))
        }
        var freeCPUs = hostList.map(\.cpus)
        var freeMemory = hostList.map(\.memoryMiB)
        var vms: [VM] = []
        vms.reserveCapacity(hosts * vmsPerHost)
        var attached = Set<DeviceRef>()
        for h in 0..<hosts {
            for k in 0..<vmsPerHost {
                let cpus = 1 << roll(3)
                let memory = 1024 << roll(4)
                guard freeCPUs[h] >= cpus, freeMemory[h] >= memory else { continue }
                freeCPUs[h] -= cpus
                freeMemory[h] -= memory
                let name = "vm-" + pad(h, width) + "-\(k)"
                var devices: [DeviceRef] = []
                if hosts > 1 && roll(10) == 0 {
                    let other = roll(hosts)
                    if let device = hostList[other].devices.first {
                        let ref = DeviceRef(host: hostList[other].name, id: device.id)
                        if attached.insert(ref).inserted { devices.append(ref) }
                    }
                }
                vms.append(VM(name: name, host: hostList[h].name, cpus: cpus, memoryMiB: memory, networkMbps: [100, 1000, 10000][roll(3)],
                              datastore: hostList[h].datastores[roll(2)], containers: ["c-" + name], devices: devices))
            }
        }
        var rules: [Rule] = []
        for (i, vm) in vms.enumerated() where roll(100) < rulePercent {
            switch roll(3) {
            case 0:
                let partner = vms[(i + 1 + roll(max(vms.count - 1, 1))) % vms.count].name
                if partner != vm.name { rules.append(.antiAffinity(vms: [vm.name, partner])) }
            case 1:
                rules.append(.vmHost(vm: vm.name, hosts: Array(Set((0..<3).map { _ in hostList[roll(hosts)].name })).sorted(), must: false))
            default:
                let allowed = Set((0..<(2 + roll(4))).map { _ in hostList[roll(hosts)].name } + [vm.host])
                rules.append(.vmHost(vm: vm.name, hosts: allowed.sorted(), must: true))
            }
        }
        return Cluster(policy: Policy(migrateThresholdPercent: 50), hosts: hostList, vms: vms, rules: rules)
    }

    func pad(_ n: Int, _ width: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
