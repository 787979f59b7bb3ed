import Foundation
import Placement
import TetherModel

/// The failover coordinator: a fault, reported by a host's agent (self-triggered) or seen by the
/// controller in the health it gathers (externally triggered), becomes one journaled failover
/// operation per affected VM, placed by the same engine as `tether plan --fail`.
extension Controller {
    /// Plans the moves a fault calls for, on the cluster as measured now, and journals and starts
    /// one failover per VM. A VM that already has one running (the other trigger of the same
    /// fault came first) is reported as joined, not moved twice.
    public func reportFault(_ report: FaultReport, trigger: FailoverTrigger) async throws(TetherError) -> FaultReply {
        guard registrations[report.host] != nil else {
            throw TetherError(.notFound, "host '\(report.host)' has not registered; its faults cannot be acted on")
        }
        let time = now()
        let index = ClusterIndex(measuredCluster())
        var reply = FaultReply()
        var plans: [FailoverPlan] = []
        for failure in try Self.failures(report, index) {
            plans.append(try FailoverPlanner.plan(failure, index))
        }
        let wanted = Set(report.vms)
        for plan in plans {
            reply.notes += plan.notes
            reply.unplaced += plan.unplaced.filter { wanted.isEmpty || wanted.contains($0.vm) }
            for move in plan.moves where wanted.isEmpty || wanted.contains(move.vm) {
                let order = FailoverOrder(vm: move.vm, fault: report.fault, trigger: trigger, from: move.from, target: move.targetHost,
                                          mode: move.mode, via: move.via.flatMap(NetworkRole.init(rawValue:)), evidence: report.evidence,
                                          reasons: move.reasons, faultAt: report.faultAt, detectedAt: time)
                do {
                    let record = try await store.begin(.failover(order), at: time)
                    reply.started.append(record.id)
                    launch(record)
                } catch where error.code == .busy {
                    let running = try? await store.unfinishedOperations().first { $0.vm == move.vm }
                    reply.joined.append(running?.id ?? move.vm)
                }
            }
        }
        var detail = report.evidence
        if !reply.started.isEmpty { detail.append("failover \(reply.started.joined(separator: ", ")) begun") }
        if !reply.joined.isEmpty { detail.append("joined \(reply.joined.joined(separator: ", ")), already running") }
        detail += reply.unplaced.map { "\($0.vm) cannot be placed: \($0.reasons.joined(separator: "; "))" }
        detail += reply.notes
        events.append(ClusterEvent(at: time, kind: .fault, host: report.host, subject: report.fault.rawValue, from: trigger.rawValue,
                                   to: reply.started.isEmpty ? (reply.joined.isEmpty ? "nothing to move" : "joined") : "failover",
                                   detail: detail, detectionSeconds: report.faultAt.map { time.timeIntervalSince($0) }))
        if let faultAt = report.faultAt, !reply.started.isEmpty {
            ControllerMetrics.detected("failover-\(report.fault.rawValue)", after: time.timeIntervalSince(faultAt))
        }
        return reply
    }

    /// The placement engine's failures for a report: a host's fault, or one per VM.
    static func failures(_ report: FaultReport, _ index: ClusterIndex) throws(TetherError) -> [Failure] {
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

    /// The cluster as last measured: what the agents registered, with each network the
    /// controller judges down marked down, and each datastore a host has no working path to
    /// left out of that host's, so that no failover picks a target that cannot take the VM.
    func measuredCluster() -> Cluster {
        var registered = registrations.values.sorted { $0.host < $1.host }
        for r in registered.indices {
            guard let judged = health.judged[registered[r].host] else { continue }
            for (role, network) in judged.networks where network.state == .down {
                registered[r].networks[role]?.up = false
            }
            let cut = Set(judged.datastores.filter { !$0.paths.isEmpty && $0.paths.allSatisfy { $0.state == .down } }.map(\.name))
            registered[r].datastores.removeAll { cut.contains($0) }
            if !judged.up { registered[r].networks[.management]?.up = false }
        }
        return ClusterAssembly.cluster(registrations: registered, attachments: Array(attachments.values), downHosts: downHosts(at: now()),
                                       policy: settings.policy)
    }

    /// The faults the controller sees from the outside, now: a host heard on management whose
    /// datastore heartbeat records its peers see stop advancing on every datastore it uses lost
    /// its storage (shared/spec/ha.md, externally triggered). Each is acted on once while it
    /// lasts; its own agent may have acted first, and is then joined.
    public func actOnHealth() async {
        for (host, judged) in health.judged.sorted(by: { $0.key < $1.key }) {
            let stopped = judged.heartbeatsStopped
            let key = "\(host)/storage"
            guard judged.up, !judged.condition.verdict.isSilent, !stopped.isEmpty else {
                actedOn.remove(key)
                continue
            }
            guard actedOn.insert(key).inserted else { continue }
            let evidence = ["its heartbeat records stopped advancing on \(stopped.joined(separator: ", ")), as its peers see, "
                            + "while it answers on management"]
            let lastWrite = health.reports[host]?.datastores.flatMap(\.paths).compactMap(\.lastSuccess).max()
            _ = try? await reportFault(FaultReport(host: host, fault: .storage, evidence: evidence, faultAt: lastWrite), trigger: .external)
        }
    }
}
