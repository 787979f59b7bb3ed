import TetherModel

/// The cluster as integer-indexed arrays: built once, then every filter and scorer reads flat
/// arrays instead of hashing names, so that a plan over 10,000 hosts stays in milliseconds.
public struct ClusterIndex: Sendable {
    public private(set) var cluster: Cluster
    let hostByName: [String: Int]
    let vmByName: [String: Int]
    let vmByContainer: [String: Int]
    /// `networkUp[role][host]`, as the file says (faults are applied per request).
    let networkUp: [NetworkRole: [Bool]]
    /// Datastore indices each host has a path to, flattened: host h reaches
    /// `datastoreReach[datastoreOffsets[h] ..< datastoreOffsets[h + 1]]`. One flat array, so a
    /// filter reading it for thousands of hosts does no reference counting per host.
    let datastoreOffsets: [Int]
    let datastoreReach: [Int]
    let datastoreByName: [String: Int]
    let datastoreNames: [String]
    let vmDatastore: [Int]
    /// Per VM: the hosts a must rule allows (nil: no must rule), and hosts a should rule names.
    let mustHosts: [Set<Int>?]
    let shouldHosts: [Set<Int>]
    /// Per VM: VMs it must never share a host with.
    let antiAffinity: [[Int]]
    /// Per VM: host index of each attached device.
    private(set) var deviceHosts: [[Int]]
    /// Which VM a device is attached to.
    private(set) var deviceOwner: [DeviceRef: Int]
    /// Per VM: the host it runs on in the file (-1 for none).
    private(set) var vmHomes: [Int]
    /// Each host's position in name order: ties are broken by name without comparing strings.
    let nameRank: [Int]

    public init(_ cluster: Cluster) {
        self.cluster = cluster
        var hostByName: [String: Int] = [:]
        for (i, host) in cluster.hosts.enumerated() { hostByName[host.name] = i }
        var vmByName: [String: Int] = [:]
        var vmByContainer: [String: Int] = [:]
        var deviceOwner: [DeviceRef: Int] = [:]
        for (i, vm) in cluster.vms.enumerated() {
            vmByName[vm.name] = i
            for container in vm.containers { vmByContainer[container] = i }
            for device in vm.devices { deviceOwner[device] = i }
        }
        var networkUp: [NetworkRole: [Bool]] = [:]
        for role in NetworkRole.allCases { networkUp[role] = cluster.hosts.map { $0.isUp(role) } }
        var datastoreByName: [String: Int] = [:]
        for name in cluster.hosts.flatMap(\.datastores) + cluster.vms.map(\.datastore) where datastoreByName[name] == nil {
            datastoreByName[name] = datastoreByName.count
        }
        var mustHosts = [Set<Int>?](repeating: nil, count: cluster.vms.count)
        var shouldHosts = [Set<Int>](repeating: [], count: cluster.vms.count)
        var antiAffinity = [[Int]](repeating: [], count: cluster.vms.count)
        for rule in cluster.rules {
            switch rule {
            case .vmHost(let vm, let hosts, let must):
                guard let v = vmByName[vm] else { continue }
                let indices = Set(hosts.compactMap { hostByName[$0] })
                if must {
                    // Several must rules for one VM: it may run only where all of them allow.
                    mustHosts[v] = mustHosts[v].map { $0.intersection(indices) } ?? indices
                } else {
                    shouldHosts[v].formUnion(indices)
                }
            case .antiAffinity(let vms):
                let members = vms.compactMap { vmByName[$0] }
                for a in members { for b in members where a != b && !antiAffinity[a].contains(b) { antiAffinity[a].append(b) } }
            }
        }
        self.hostByName = hostByName
        self.vmByName = vmByName
        self.vmByContainer = vmByContainer
        self.networkUp = networkUp
        self.datastoreByName = datastoreByName
        var datastoreNames = [String](repeating: "", count: datastoreByName.count)
        for (name, i) in datastoreByName { datastoreNames[i] = name }
        self.datastoreNames = datastoreNames
        var offsets = [0]
        var reach: [Int] = []
        for host in cluster.hosts {
            reach += host.datastores.compactMap { datastoreByName[$0] }
            offsets.append(reach.count)
        }
        self.datastoreOffsets = offsets
        self.datastoreReach = reach
        self.vmDatastore = cluster.vms.map { datastoreByName[$0.datastore] ?? -1 }
        self.mustHosts = mustHosts
        self.shouldHosts = shouldHosts
        self.antiAffinity = antiAffinity
        self.deviceHosts = cluster.vms.map { $0.devices.compactMap { hostByName[$0.host] } }
        self.deviceOwner = deviceOwner
        self.vmHomes = cluster.vms.map { hostByName[$0.host] ?? -1 }
        var nameRank = [Int](repeating: 0, count: cluster.hosts.count)
        for (rank, host) in cluster.hosts.indices.sorted(by: { cluster.hosts[$0].name < cluster.hosts[$1].name }).enumerated() {
            nameRank[host] = rank
        }
        self.nameRank = nameRank
    }

    /// A device now attached to `vm` (nil: detached), without building the index again: what a
    /// daemon does at every attach, where a rebuild of 1,000 hosts would cost milliseconds.
    public mutating func setOwner(of device: DeviceRef, to vm: Int?) {
        if let old = deviceOwner[device] {
            cluster.vms[old].devices.removeAll { $0 == device }
            deviceHosts[old] = cluster.vms[old].devices.compactMap { hostByName[$0.host] }
        }
        deviceOwner[device] = vm
        guard let vm else { return }
        cluster.vms[vm].devices.append(device)
        cluster.vms[vm].devices.sort()
        deviceHosts[vm] = cluster.vms[vm].devices.compactMap { hostByName[$0.host] }
    }

    /// A VM that now runs on `host` (the free capacity is PlacementState's to move).
    public mutating func relocate(_ vm: Int, to host: Int) {
        cluster.vms[vm].host = cluster.hosts[host].name
        vmHomes[vm] = host
    }

    public var hostCount: Int { cluster.hosts.count }
    public func host(_ i: Int) -> ClusterHost { cluster.hosts[i] }
    public func vm(_ i: Int) -> VM { cluster.vms[i] }
    public func hostIndex(_ name: String) -> Int? { hostByName[name] }
    public func vmIndex(_ name: String) -> Int? { vmByName[name] }
    public func vmIndex(container: String) -> Int? { vmByContainer[container] }
    func isUp(_ role: NetworkRole, _ host: Int) -> Bool { networkUp[role]?[host] ?? false }
    public func datastoreIndex(_ name: String) -> Int? { datastoreByName[name] }
    public func datastoreName(_ i: Int) -> String { datastoreNames[i] }
}

/// What changes while a plan is made: free capacity, and where each VM runs.
public struct PlacementState: Sendable {
    public var freeCPUs: [Int]
    public var freeMemoryMiB: [Int]
    public var vmHost: [Int]

    public init(_ index: ClusterIndex) {
        var cpus = index.cluster.hosts.map(\.cpus)
        var memory = index.cluster.hosts.map(\.memoryMiB)
        for (vm, h) in zip(index.cluster.vms, index.vmHomes) where h >= 0 {
            cpus[h] -= vm.cpus
            memory[h] -= vm.memoryMiB
        }
        freeCPUs = cpus
        freeMemoryMiB = memory
        vmHost = index.vmHomes
    }

    /// Moves a VM: its capacity leaves the old host and is taken on the new one.
    public mutating func move(_ vm: Int, to host: Int, _ index: ClusterIndex) {
        let spec = index.vm(vm)
        let from = vmHost[vm]
        if from >= 0 && from != host {
            freeCPUs[from] += spec.cpus
            freeMemoryMiB[from] += spec.memoryMiB
        }
        if from != host {
            freeCPUs[host] -= spec.cpus
            freeMemoryMiB[host] -= spec.memoryMiB
        }
        vmHost[vm] = host
    }
}
