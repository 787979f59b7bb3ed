import TetherModel

/// What failed: `--fail TARGET[:FAULT[,FAULT...]]` of shared/spec/placement.md.
public enum Failure: Sendable, Equatable {
    /// A host lost these networks; none means the host is gone.
    case host(String, lost: Set<NetworkRole>)
    /// Every IO path of a VM to its datastore failed on its host.
    case ioPaths(vm: String)
    /// A VM's guest OS crashed.
    case crash(vm: String)

    /// Parses TARGET[:FAULTS] against the cluster: a host takes network faults, a VM takes
    /// `io-paths` or `crash`.
    public static func parse(_ text: String, _ index: ClusterIndex) throws(TetherError) -> Failure {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let target = parts[0]
        let faults = parts.count > 1 ? parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init) : []
        if parts.count > 1 && faults.contains(where: \.isEmpty) {
            throw TetherError(.invalidArgument, "--fail \(text): a fault is empty; write TARGET or TARGET:FAULT[,FAULT...]")
        }
        if index.hostIndex(target) != nil {
            var lost = Set<NetworkRole>()
            for fault in faults {
                guard let role = NetworkRole(rawValue: fault) else {
                    throw TetherError(.invalidArgument,
                                      "--fail \(text): '\(fault)' is not a fault of a host (management, migration, vm, storage; none: the host is gone)")
                }
                lost.insert(role)
            }
            return .host(target, lost: lost)
        }
        if index.vmIndex(target) != nil {
            switch faults {
            case ["io-paths"]: return .ioPaths(vm: target)
            case ["crash"]: return .crash(vm: target)
            default:
                throw TetherError(.invalidArgument, "--fail \(text): a VM takes exactly one fault, io-paths or crash")
            }
        }
        throw TetherError(.notFound, "--fail \(text): '\(target)' is neither a host nor a VM of the cluster")
    }
}
