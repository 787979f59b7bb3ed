import Placement
import TetherModel

/// Checks a plan against the cluster by replaying it, independently of the engine: every rule a
/// plan must never break, stated once. Returns what is wrong; empty when nothing is.
enum PlanChecker {
    static func violations(_ plan: FailoverPlan, _ cluster: Cluster, _ failure: Failure) -> [String] {
        var problems: [String] = []
        let hosts = Dictionary(uniqueKeysWithValues: cluster.hosts.map { ($0.name, $0) })
        var freeCPUs = Dictionary(uniqueKeysWithValues: cluster.hosts.map { ($0.name, $0.cpus) })
        var freeMemory = Dictionary(uniqueKeysWithValues: cluster.hosts.map { ($0.name, $0.memoryMiB) })
        var placement = Dictionary(uniqueKeysWithValues: cluster.vms.map { ($0.name, $0.host) })
        for vm in cluster.vms {
            freeCPUs[vm.host, default: 0] -= vm.cpus
            freeMemory[vm.host, default: 0] -= vm.memoryMiB
        }
        let vms = Dictionary(uniqueKeysWithValues: cluster.vms.map { ($0.name, $0) })

        var affected: [String]
        var forbidden: String?
        var lost = Set<NetworkRole>()
        switch failure {
        case .host(let name, let faults):
            affected = faults == [.migration] ? [] : cluster.vms.filter { $0.host == name }.map(\.name)
            forbidden = name
            lost = faults
        case .ioPaths(let vm):
            affected = [vm]
            forbidden = vms[vm]?.host
        case .crash(let vm):
            affected = [vm]
            forbidden = hosts[vms[vm]?.host ?? ""]?.isUp == true ? nil : vms[vm]?.host
        }
        let planned = plan.moves.map(\.vm) + plan.unplaced.map(\.vm)
        if planned.sorted() != affected.sorted() { problems.append("plans \(planned.sorted()), affected \(affected.sorted())") }

        for move in plan.moves {
            guard let vm = vms[move.vm], let target = hosts[move.targetHost], let from = hosts[move.from] else {
                problems.append("\(move.vm): names something unknown")
                continue
            }
            let inPlace = move.targetHost == move.from
            if move.targetHost == forbidden { problems.append("\(vm.name): moved to the host it must leave") }
            if !target.isUp { problems.append("\(vm.name): target \(target.name) is down") }
            // A restart in place (the spec's crash flow on a host that is up) changes no
            // placement, so the placement rules judge only real moves.
            if !inPlace {
                if !target.datastores.contains(vm.datastore) { problems.append("\(vm.name): \(target.name) has no path to \(vm.datastore)") }
                for rule in cluster.rules {
                    switch rule {
                    case .vmHost(vm.name, let allowed, true) where !allowed.contains(target.name):
                        problems.append("\(vm.name): a must rule forbids \(target.name)")
                    case .antiAffinity(let group) where group.contains(vm.name):
                        for other in group where other != vm.name && placement[other] == target.name {
                            problems.append("\(vm.name): shares \(target.name) with \(other) (anti-affinity)")
                        }
                    default: break
                    }
                }
            }
            if !inPlace {
                if (freeCPUs[target.name] ?? 0) < vm.cpus || (freeMemory[target.name] ?? 0) < vm.memoryMiB {
                    problems.append("\(vm.name): \(target.name) has not the capacity left")
                }
                freeCPUs[target.name, default: 0] -= vm.cpus
                freeMemory[target.name, default: 0] -= vm.memoryMiB
                freeCPUs[from.name, default: 0] += vm.cpus
                freeMemory[from.name, default: 0] += vm.memoryMiB
            }
            switch move.mode {
            case .restart:
                if move.via != nil { problems.append("\(vm.name): a restart carries nothing, yet via \(move.via ?? "")") }
            case .live, .suspendResume:
                guard let via = move.via.flatMap(NetworkRole.init(rawValue:)) else {
                    problems.append("\(vm.name): a \(move.mode.rawValue) move without a carrying network")
                    break
                }
                if !target.isUp(via) { problems.append("\(vm.name): \(via.rawValue) network down on \(target.name)") }
                if !from.isUp(via) || lost.contains(via) { problems.append("\(vm.name): \(via.rawValue) network down on \(from.name)") }
            }
            placement[vm.name] = target.name
        }
        for vm in plan.unplaced where vm.reasons.count != cluster.hosts.count {
            problems.append("\(vm.vm): unplaced with \(vm.reasons.count) reasons for \(cluster.hosts.count) hosts")
        }
        return problems
    }
}
