import TetherModel

/// The high-availability flows: for a failure, where each affected VM goes and how. VMs of one
/// host are placed largest memory first (then by name), and each move takes capacity from its
/// target before the next VM is placed.
public enum FailoverPlanner {
    /// At most this many rejected hosts are named in a placed VM's reasons; the rest are counted.
    static let namedRejections = 10

    public static func plan(_ failure: Failure, _ index: ClusterIndex, engine: PlacementEngine = .standard) throws(TetherError) -> FailoverPlan {
        var state = PlacementState(index)
        var plan = FailoverPlan(moves: [], unplaced: [], notes: [])
        switch failure {
        case .host(let name, let lost):
            guard let h = index.hostIndex(name) else { throw TetherError(.notFound, "host '\(name)' is not in the cluster") }
            let vms = index.cluster.vms.indices.filter { state.vmHost[$0] == h }
                .sorted { (index.vm($0).memoryMiB, index.vm($1).name) > (index.vm($1).memoryMiB, index.vm($0).name) }
            guard let flow = HostFlow(host: h, lost: lost, index) else {
                plan.notes.append("\(name) lost only its \(lost.sorted().map(\.rawValue).joined(separator: " and ")) network; its VMs keep running and nothing moves")
                return plan
            }
            if vms.isEmpty { plan.notes.append("\(name) runs no VMs; nothing to move") }
            for v in vms {
                let request = MoveRequest(vm: v, mode: flow.mode, via: flow.via, excluded: [h: .failedHost], sourceDown: lost)
                place(request, why: flow.why(index.vm(v).name), index, &state, &plan, engine)
            }
        case .ioPaths(let name):
            guard let v = index.vmIndex(name) else { throw TetherError(.notFound, "vm '\(name)' is not in the cluster") }
            let vm = index.vm(v)
            let h = state.vmHost[v]
            let via = carrier(from: h, lost: [], index)
            let how = via.map { "live-migrate it over the \($0.rawValue) network to a host with a working path" } ?? "live-migrate it"
            let request = MoveRequest(vm: v, mode: .live, via: via, excluded: [h: .ioPathsFailed(datastore: index.vmDatastore[v])])
            place(request, why: "\(name)'s IO paths to \(vm.datastore) failed on \(vm.host): \(how)", index, &state, &plan, engine)
        case .crash(let name):
            guard let v = index.vmIndex(name) else { throw TetherError(.notFound, "vm '\(name)' is not in the cluster") }
            let vm = index.vm(v)
            let h = state.vmHost[v]
            if h >= 0 && index.host(h).isUp {
                plan.moves.append(.init(vm: name, from: vm.host, targetHost: vm.host, mode: .restart, via: nil, crashDump: true,
                                        reasons: ["\(name)'s guest crashed: collect its crash dump, then restart it on \(vm.host), which is up"]))
            } else {
                let request = MoveRequest(vm: v, mode: .restart, via: nil, excluded: h >= 0 ? [h: .down] : [:])
                place(request, why: "\(name)'s guest crashed and its host \(vm.host) is down: collect its crash dump, then restart it elsewhere",
                      index, &state, &plan, engine, crashDump: true)
            }
        }
        return plan
    }

    /// How the VMs of a host with these faults move, or nil when nothing needs to move.
    struct HostFlow {
        var mode: MoveMode
        var via: NetworkRole?
        var why: (String) -> String

        init?(host h: Int, lost: Set<NetworkRole>, _ index: ClusterIndex) {
            let name = index.host(h).name
            let via = carrier(from: h, lost: lost, index)
            let over = via.map { $0 == .management
                ? "over the management network, temporarily configured for migration"
                : "over the \($0.rawValue) network" } ?? "(no network is left to carry the state)"
            self.via = via
            if lost.isEmpty {
                mode = .restart
                self.via = nil
                why = { "\(name) is gone: restart \($0) from its disk on another host" }
            } else if lost.contains(.storage) {
                mode = .suspendResume
                why = { "\(name) lost its storage network: suspend \($0), save its state, carry it \(over) and resume it there" }
            } else if lost.contains(.management) || lost.contains(.vm) {
                mode = .live
                let what = lost.sorted().map(\.rawValue).joined(separator: " and ")
                why = { "\(name) lost its \(what) network\(lost.count > 1 ? "s" : ""): live-migrate \($0) \(over)" }
            } else {
                return nil   // only the migration network: the VMs keep running where they are
            }
        }
    }

    /// The network that carries a VM's state away from host `h`: the migration network, or the
    /// management network (temporarily configured for migration) when that one is lost.
    static func carrier(from h: Int, lost: Set<NetworkRole>, _ index: ClusterIndex) -> NetworkRole? {
        guard h >= 0 else { return nil }
        return [NetworkRole.migration, .management].first { index.isUp($0, h) && !lost.contains($0) }
    }

    static func place(_ request: MoveRequest, why: String, _ index: ClusterIndex, _ state: inout PlacementState,
                      _ plan: inout FailoverPlan, _ engine: PlacementEngine, crashDump: Bool? = nil) {
        let vm = index.vm(request.vm)
        let from = state.vmHost[request.vm]
        let choice = engine.place(request, index, state)
        guard let target = choice.host else {
            var reasons = choice.rejected.sorted { index.nameRank[$0.host] < index.nameRank[$1.host] }
                .map { "\(index.host($0.host).name): \($0.reason.text(index))" }
            if reasons.isEmpty { reasons = ["the cluster has no other host"] }
            plan.unplaced.append(.init(vm: vm.name, reasons: reasons))
            return
        }
        state.move(request.vm, to: target, index)
        var reasons = [why, "\(index.host(target).name) chosen: " + engine.explain(choice).joined(separator: "; ")]
        let others = choice.feasible.count - 1
        if others > 0 { reasons.append("\(others) other host\(others == 1 ? "" : "s") could take it, with a lower preference") }
        // The first few rejected hosts by name, and the rest counted by kind: found in one pass,
        // because a move on a large cluster may have thousands of rejected hosts.
        var named: [(host: Int, reason: Rejection)] = []
        var counts = [Int](repeating: 0, count: RejectionKind.allCases.count)
        for rejection in choice.rejected {
            counts[rejection.reason.kind.rawValue] += 1
            let rank = index.nameRank[rejection.host]
            if named.count < namedRejections || rank < index.nameRank[named[named.count - 1].host] {
                let at = named.firstIndex { index.nameRank[$0.host] > rank } ?? named.count
                named.insert(rejection, at: at)
                if named.count > namedRejections { named.removeLast() }
            }
        }
        reasons += named.map { "\(index.host($0.host).name): \($0.reason.text(index))" }
        if choice.rejected.count > named.count {
            for shown in named { counts[shown.reason.kind.rawValue] -= 1 }
            let summary = RejectionKind.allCases.filter { counts[$0.rawValue] > 0 }
                .sorted { (counts[$0.rawValue], $1.rawValue) > (counts[$1.rawValue], $0.rawValue) }
                .map { "\(counts[$0.rawValue]) \($0.name)" }.joined(separator: ", ")
            reasons.append("\(choice.rejected.count - named.count) more hosts rejected: \(summary)")
        }
        plan.moves.append(.init(vm: vm.name, from: from >= 0 ? index.host(from).name : vm.host, targetHost: index.host(target).name,
                                mode: request.mode, via: request.mode == .restart ? nil : request.via?.rawValue,
                                crashDump: crashDump, reasons: reasons))
    }
}
