/// The hosts still in the running for one move, and why the others fell out.
public struct Candidates: Sendable {
    public private(set) var hosts: [Int]
    public private(set) var rejected: [(host: Int, reason: Rejection)] = []

    public init(hosts: [Int]) {
        self.hosts = hosts
        rejected.reserveCapacity(hosts.count)
    }

    /// Keeps the hosts `check` has nothing against; records the reason for each one it rejects.
    /// Inlined so that each filter's check becomes a plain loop: it runs for every host of a
    /// large cluster, for every VM of a failover.
    @inline(__always)
    public mutating func remove(where check: (Int) -> Rejection?) {
        var kept = 0
        for i in hosts.indices {
            let host = hosts[i]
            if let reason = check(host) {
                rejected.append((host, reason))
            } else {
                hosts[kept] = host
                kept += 1
            }
        }
        hosts.removeLast(hosts.count - kept)
    }
}

/// A feasibility plugin (kube-scheduler's Filter, Nova's host filter): removes the hosts that
/// cannot take the VM of `request`, each with its reason. It reads the world, never changes it.
public protocol PlacementFilter: Sendable {
    var name: String { get }
    func filter(_ request: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ candidates: inout Candidates)
}

/// A preference plugin (Score, Nova's weigher): higher is better. Scorers are compared in
/// order; a later scorer only breaks ties of the earlier ones; names break the last ties.
/// It scores all feasible hosts of one move at once, so that it can look up what the move
/// needs once rather than once per host.
public protocol PlacementScorer: Sendable {
    var name: String { get }
    func scores(_ request: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, hosts: [Int]) -> [Int]
    /// Why a host with this score is preferred, for the explanation; nil when it says nothing.
    func explain(score: Int) -> String?
}
