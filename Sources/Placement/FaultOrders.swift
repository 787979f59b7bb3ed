import Foundation
import TetherModel

/// A reported fault made into failover orders: the placement engine's failures for it, each
/// planned on the cluster given, and one order per VM moved. The controller journals them; a
/// host cut off from its controller (management lost) journals its own, from its cluster view.
public struct FaultOrders: Sendable, Equatable {
    public var orders: [FailoverOrder]
    public var unplaced: [FailoverPlan.Unplaced]
    public var notes: [String]

    public init(_ report: FaultReport, trigger: FailoverTrigger, on index: ClusterIndex, at time: Date) throws(TetherError) {
        orders = []
        unplaced = []
        notes = []
        let wanted = Set(report.vms)
        for failure in try Self.failures(report, index) {
            let plan = try FailoverPlanner.plan(failure, index)
            notes += plan.notes
            unplaced += plan.unplaced.filter { wanted.isEmpty || wanted.contains($0.vm) }
            for move in plan.moves where wanted.isEmpty || wanted.contains(move.vm) {
                orders.append(FailoverOrder(vm: move.vm, fault: report.fault, trigger: trigger, from: move.from, target: move.targetHost,
                                            mode: move.mode, via: move.via.flatMap(NetworkRole.init(rawValue:)), evidence: report.evidence,
                                            reasons: move.reasons, faultAt: report.faultAt, detectedAt: time))
            }
        }
    }

    /// The placement engine's failures for a report: a host's fault, or one per VM.
    public static func failures(_ report: FaultReport, _ index: ClusterIndex) throws(TetherError) -> [Failure] {
        switch report.fault {
        case .host: return [.host(report.host, lost: [])]
        case .storage: return [.host(report.host, lost: [.storage])]
        case .management: return [.host(report.host, lost: [.management])]
        case .migrationAndVM: return [.host(report.host, lost: [.migration, .vm])]
        case .ioPaths, .crash:
            guard !report.vms.isEmpty else {
                throw TetherError(.invalidArgument, "a \(report.fault.rawValue) fault names its VMs")
            }
            return report.vms.map { report.fault == .crash ? .crash(vm: $0) : .ioPaths(vm: $0) }
        }
    }
}
