import TetherModel
import Placement

/// `tether plan` without --json: what was decided first, then why, then why not elsewhere.
enum PlanText {
    static func render(_ d: AttachDecision) -> String {
        var out = "Attach \(d.device) to container \(d.container) (\(d.vm) on \(d.vmHost))\n\(headline(d))\n"
        for reason in d.reasons { out += "  - \(reason)\n" }
        return out
    }

    /// What was decided, in one line: `MIGRATE vm-a from host-a to host-b`.
    static func headline(_ d: AttachDecision) -> String {
        switch d.action {
        case .local: "LOCAL: \(d.device) is already on \(d.vmHost), where \(d.vm) runs"
        case .migrate: "MIGRATE \(d.vm) from \(d.vmHost) to \(d.targetHost ?? "?")"
        case .forward: "FORWARD \(d.device) to \(d.vm) on \(d.vmHost)"
        case .reject: "REJECT: \(d.device) cannot be given to \(d.vm)"
        }
    }

    static func render(_ plan: FailoverPlan, failure: Failure) -> String {
        let what: String
        switch failure {
        case .host(let host, let lost) where lost.isEmpty: what = "\(host) is gone"
        case .host(let host, let lost):
            what = "\(host) lost its \(lost.sorted().map(\.rawValue).joined(separator: " and ")) network\(lost.count > 1 ? "s" : "")"
        case .ioPaths(let vm): what = "\(vm) lost every IO path to its datastore"
        case .crash(let vm): what = "\(vm)'s guest crashed"
        }
        var out = "Failover: \(what): \(plan.moves.count) move\(plan.moves.count == 1 ? "" : "s"), \(plan.unplaced.count) unplaced\n"
        for note in plan.notes { out += "  note: \(note)\n" }
        for move in plan.moves {
            let how = move.mode == .restart ? "restart" : "\(move.mode.rawValue) over \(move.via ?? "?")"
            out += "\n\(move.vm): \(move.from) -> \(move.targetHost) (\(how)\(move.crashDump == true ? ", crash dump first" : ""))\n"
            for reason in move.reasons { out += "  - \(reason)\n" }
        }
        for vm in plan.unplaced {
            out += "\n\(vm.vm): UNPLACED, no host can take it\n"
            for reason in vm.reasons { out += "  - \(reason)\n" }
        }
        return out
    }
}
