/// Runs the filter plugins, then ranks the survivors with the scorer plugins. Pure and
/// deterministic: the same index, state and request always give the same choice.
public struct PlacementEngine: Sendable {
    public var filters: [any PlacementFilter]
    public var scorers: [any PlacementScorer]

    public init(filters: [any PlacementFilter], scorers: [any PlacementScorer]) {
        self.filters = filters
        self.scorers = scorers
    }

    /// The filters and scorers of shared/spec/placement.md. Filter order decides which reason a
    /// host that fails several checks is given: the most basic first.
    public static let standard = PlacementEngine(
        filters: [ExcludedHostFilter(), HostUpFilter(), CarrierNetworkFilter(), CapacityFilter(), DatastoreFilter(),
                  MustRuleFilter(), AntiAffinityFilter()],
        scorers: [DeviceLocalityScorer(), ShouldRuleScorer(), FreeMemoryScorer()]
    )

    public struct Choice: Sendable {
        /// The chosen host, or nil when every host was rejected.
        public var host: Int?
        /// The chosen host's score from each scorer, in scorer order.
        public var scores: [Int]
        /// Every host that could have taken the VM, the chosen one included.
        public var feasible: [Int]
        /// Every host that could not, with the first reason found.
        public var rejected: [(host: Int, reason: Rejection)]
    }

    /// Places the VM of `request` among `hosts` (all hosts when nil).
    public func place(_ request: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, among hosts: [Int]? = nil) -> Choice {
        var candidates = Candidates(hosts: hosts ?? Array(0..<index.hostCount))
        for filter in filters {
            if candidates.hosts.isEmpty { break }
            filter.filter(request, index, state, &candidates)
        }
        let hosts = candidates.hosts
        let columns = scorers.map { $0.scores(request, index, state, hosts: hosts) }
        // Lexicographic over the scorers' columns, then by name.
        var best = -1
        for i in hosts.indices {
            guard best >= 0 else { best = i; continue }
            var decided = false
            for column in columns where column[i] != column[best] {
                if column[i] > column[best] { best = i }
                decided = true
                break
            }
            if !decided && index.nameRank[hosts[i]] < index.nameRank[hosts[best]] { best = i }
        }
        return Choice(host: best >= 0 ? hosts[best] : nil, scores: best >= 0 ? columns.map { $0[best] } : [],
                      feasible: hosts, rejected: candidates.rejected)
    }

    /// What the scorers say for the chosen host, for its explanation.
    public func explain(_ choice: Choice) -> [String] {
        zip(scorers, choice.scores).compactMap { $0.explain(score: $1) }
    }
}
