/// Prefer hosts where the VM's attached devices are local: nothing to forward after the move.
public struct DeviceLocalityScorer: PlacementScorer {
    public let name = "device-locality"
    public init() {}
    public func scores(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, hosts: [Int]) -> [Int] {
        let deviceHosts = index.deviceHosts[r.vm]
        guard !deviceHosts.isEmpty else { return [Int](repeating: 0, count: hosts.count) }
        return hosts.map { host in deviceHosts.reduce(0) { $0 + ($1 == host ? 1 : 0) } }
    }
    public func explain(score: Int) -> String? {
        score == 0 ? nil : "\(score) of the VM's attached device\(score == 1 ? " is" : "s are") local there"
    }
}

/// Prefer hosts a `should` vm-host rule names.
public struct ShouldRuleScorer: PlacementScorer {
    public let name = "should-rule"
    public init() {}
    public func scores(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, hosts: [Int]) -> [Int] {
        let named = index.shouldHosts[r.vm]
        guard !named.isEmpty else { return [Int](repeating: 0, count: hosts.count) }
        return hosts.map { named.contains($0) ? 1 : 0 }
    }
    public func explain(score: Int) -> String? { score == 0 ? nil : "a should rule names it" }
}

/// Prefer the host with the most free memory after the move.
public struct FreeMemoryScorer: PlacementScorer {
    public let name = "free-memory"
    public init() {}
    public func scores(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, hosts: [Int]) -> [Int] {
        let memory = index.cluster.vms[r.vm].memoryMiB
        let current = state.vmHost[r.vm]
        let free = state.freeMemoryMiB
        return hosts.map { free[$0] - ($0 == current ? 0 : memory) }
    }
    public func explain(score: Int) -> String? { "\(score) MiB free after the move" }
}
