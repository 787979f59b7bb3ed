import TetherModel

/// One VM to place: where it is, how it would move, and which hosts are out of the question.
public struct MoveRequest: Sendable {
    public var vm: Int
    public var mode: MoveMode
    /// The network that carries the state (live, suspend-resume); nil for a restart.
    public var via: NetworkRole?
    /// Hosts that can never be the answer, with why: the failed host, the VM's own host.
    public var excluded: [Int: Rejection]
    /// Networks counted as down on the source host (its faults).
    public var sourceDown: Set<NetworkRole>

    public init(vm: Int, mode: MoveMode, via: NetworkRole?, excluded: [Int: Rejection] = [:], sourceDown: Set<NetworkRole> = []) {
        self.vm = vm
        self.mode = mode
        self.via = via
        self.excluded = excluded
        self.sourceDown = sourceDown
    }
}

/// Why a host cannot take a VM. Plain data (names are indices into the cluster), so that
/// filters rejecting ten thousand hosts per VM cost no allocation or reference counting; it
/// becomes text only when it is reported, through `text(_:)`.
public enum Rejection: Sendable, Equatable {
    case failedHost
    case ioPathsFailed(datastore: Int)
    case alreadyThere
    case down
    case networkDown(NetworkRole)
    case sourceCannotSend(NetworkRole)
    case noCarrier
    case notEnoughCPUs(needs: Int, free: Int)
    case notEnoughMemory(needs: Int, free: Int)
    case noDatastorePath(datastore: Int)
    case mustRule
    case antiAffinity(withVM: Int)

    public func text(_ index: ClusterIndex) -> String {
        switch self {
        case .failedHost: "it is the failed host"
        case .ioPathsFailed(let ds): "the VM's IO paths to \(index.datastoreName(ds)) failed here"
        case .alreadyThere: "the VM runs here already"
        case .down: "down (management network down)"
        case .networkDown(let role): "its \(role.rawValue) network is down, so the move cannot reach it"
        case .sourceCannotSend(let role): "the VM's host cannot send over its \(role.rawValue) network (down)"
        case .noCarrier: "no network is left on the VM's host to carry its state (migration and management are down)"
        case .notEnoughCPUs(let needs, let free): "not enough cpus (needs \(needs), \(free) free)"
        case .notEnoughMemory(let needs, let free): "not enough memory (needs \(needs) MiB, \(free) free)"
        case .noDatastorePath(let ds): "no path to datastore \(index.datastoreName(ds))"
        case .mustRule: "not among the hosts a must rule allows for the VM"
        case .antiAffinity(let other): "\(index.vm(other).name) runs there (anti-affinity)"
        }
    }

    /// Which kind of rejection this is, for counting many of them without hashing text.
    public var kind: RejectionKind {
        switch self {
        case .failedHost: .failedHost
        case .ioPathsFailed: .ioPathsFailed
        case .alreadyThere: .alreadyThere
        case .down: .down
        case .networkDown: .networkDown
        case .sourceCannotSend: .sourceCannotSend
        case .noCarrier: .noCarrier
        case .notEnoughCPUs: .notEnoughCPUs
        case .notEnoughMemory: .notEnoughMemory
        case .noDatastorePath: .noDatastorePath
        case .mustRule: .mustRule
        case .antiAffinity: .antiAffinity
        }
    }
}

public enum RejectionKind: Int, Sendable, CaseIterable {
    case failedHost, ioPathsFailed, alreadyThere, down, networkDown, sourceCannotSend, noCarrier
    case notEnoughCPUs, notEnoughMemory, noDatastorePath, mustRule, antiAffinity

    public var name: String {
        switch self {
        case .failedHost: "failed host"
        case .ioPathsFailed: "IO paths failed"
        case .alreadyThere: "current host"
        case .down: "down"
        case .networkDown: "carrying network down"
        case .sourceCannotSend: "source cannot send"
        case .noCarrier: "no network to carry the state"
        case .notEnoughCPUs: "not enough cpus"
        case .notEnoughMemory: "not enough memory"
        case .noDatastorePath: "no datastore path"
        case .mustRule: "must rule"
        case .antiAffinity: "anti-affinity"
        }
    }
}
