import Failover
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
        if trigger == .selfTriggered {
            markHeard(report.host)
            if let stale = staleness(of: report) {
                events.append(ClusterEvent(at: time, kind: .fault, host: report.host, subject: report.fault.rawValue, from: trigger.rawValue,
                                           to: "refused", detail: report.evidence + [stale]))
                throw TetherError(.busy, stale)
            }
        }
        let planned = try FaultOrders(report, trigger: trigger, on: ClusterIndex(measuredCluster()), at: time)
        var reply = FaultReply(unplaced: planned.unplaced, notes: planned.notes)
        var heldBack: [String] = []
        for var order in planned.orders {
            if order.fault == .crash, let note = await crashLimitReached(order.vm, at: time) {
                heldBack.append(order.vm)
                reply.notes.append(note)
                continue
            }
            if let note = claimRestart(&order) {
                heldBack.append(order.vm)
                reply.notes.append(note)
                continue
            }
            do {
                let record = try await store.begin(.failover(order), at: time)
                await keepClaim(order)
                reply.started.append(record.id)
                launch(record)
            } catch where error.code == .busy {
                unclaimRestart(order)
                let running = try? await store.unfinishedOperations().first { $0.vm == order.vm }
                reply.joined.append(running?.id ?? order.vm)
            } catch {
                unclaimRestart(order)
                throw error
            }
        }
        var detail = report.evidence
        if !reply.started.isEmpty { detail.append("failover \(reply.started.joined(separator: ", ")) begun") }
        if !reply.joined.isEmpty { detail.append("joined \(reply.joined.joined(separator: ", ")), already running") }
        detail += reply.unplaced.map { "\($0.vm) cannot be placed: \($0.reasons.joined(separator: "; "))" }
        detail += reply.notes
        events.append(ClusterEvent(at: time, kind: .fault, host: report.host, subject: report.fault.rawValue, from: trigger.rawValue,
                                   to: !reply.started.isEmpty ? "failover" : !reply.joined.isEmpty ? "joined" : !heldBack.isEmpty ? "held back" : "nothing to move",
                                   detail: detail, detectionSeconds: report.faultAt.map { time.timeIntervalSince($0) }))
        if let faultAt = report.faultAt, !reply.started.isEmpty {
            ControllerMetrics.detected("failover-\(report.fault.rawValue)", after: time.timeIntervalSince(faultAt))
        }
        return reply
    }

    /// How far a host's clock may run ahead of the controller's before its fresh reports read
    /// as made before it was heard again.
    static let reportClockTolerance: TimeInterval = 1

    /// Why a host's own report of a fault that can pass is too old to act on, or nil. One made
    /// before the controller heard the host again after a silence (its request held up on a
    /// network that was down, as an isolated host's is) tells of a time that is over: a host
    /// back from isolation has its storage and networks again, and moving its VMs then would be
    /// a failover without a fault. The agent reports again while the fault holds.
    func staleness(of report: FaultReport) -> String? {
        guard report.fault.canPass, let observed = report.observedAt, let since = heardSince[report.host],
              observed < since.addingTimeInterval(-Self.reportClockTolerance) else { return nil }
        return "\(report.host)'s report of \(report.fault.rawValue), made at \(observed.formatted(.iso8601)), "
            + "is older than its contact with the controller again at \(since.formatted(.iso8601)): "
            + "not acted on; the host reports again if the fault still holds"
    }

    /// A guest that crashed `crashRestartLimit` times within `crashWindow` is not restarted
    /// again (vSphere's VM monitoring does the same): it stays as it crashed, with its crash
    /// files, until an operator looks. Answers why, or nil when it may restart.
    func crashLimitReached(_ vm: String, at time: Date) async -> String? {
        let since = time.addingTimeInterval(-settings.crashWindow)
        let recent = (try? await store.recentOperations(limit: 500)) ?? []
        let restarts = recent.filter { $0.vm == vm && $0.failover?.fault == .crash && $0.created >= since }.count
        guard restarts >= settings.crashRestartLimit else { return nil }
        return "\(vm) crashed \(restarts + 1) times within \(Int(settings.crashWindow)) s (restarts allowed: \(settings.crashRestartLimit)): "
            + "held back, not restarted; it stays as it crashed until an operator restarts it"
    }

    /// The cluster as last measured: what the agents registered, with each network the
    /// controller judges down marked down, and each datastore a host has no working path to
    /// left out of that host's, so that no failover picks a target that cannot take the VM.
    func measuredCluster() -> Cluster {
        var registered = withRestarts(registrations.values.sorted { $0.host < $1.host })
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

    /// The host's agent must have been heard this recently: records stop too when the agent
    /// dies (its kernel and VMs alive), which is no storage fault; the heartbeat verdict takes
    /// longer to say so than the records take to stop.
    static let agentHeardWithin: TimeInterval = 1.5
    /// And heard without a gap for this long: an agent that just (re)started writes its records
    /// again, but its peers need their read period and the down time to see them advance.
    static let recordsSettle: TimeInterval = 5

    /// A heartbeat or registration came: the agent is heard, since its first one after a gap.
    func markHeard(_ host: String) {
        let time = now()
        let continuous = lastHeartbeat[host].map { time.timeIntervalSince($0) < Self.agentHeardWithin } ?? false
        if !continuous || heardSince[host] == nil { heardSince[host] = time }
        // A host down (or new) comes up: the down set changes. An up host heard again stays
        // up, and later; only a clock set back makes its heartbeat the earliest.
        if let found = downFound {
            if found.down.contains(host) || lastHeartbeat[host] == nil {
                downFound = nil
            } else if found.earliestUp.map({ time < $0 }) ?? true {
                downFound?.earliestUp = time
            }
        }
        lastHeartbeat[host] = time
    }

    /// The faults the controller sees from the outside, now (shared/spec/ha.md, externally
    /// triggered), each acted on once while it lasts; the host's own agent may have acted
    /// first, and is then joined:
    /// - a host heard on management whose datastore heartbeat records its peers see stop
    ///   advancing on a datastore lost its storage;
    /// - a host heard on management whose migration and VM networks are both judged down
    ///   lost them, and its VMs move over the management network;
    /// - a dead host's VMs restart elsewhere, once its isolation deadline has passed
    ///   (`Controller+DeadHosts.swift`).
    public func actOnHealth() async {
        let time = now()
        for (host, judged) in health.judged.sorted(by: { $0.key < $1.key }) {
            let agentHeard = (lastHeartbeat[host].map { time.timeIntervalSince($0) < Self.agentHeardWithin } ?? false)
                && (heardSince[host].map { time.timeIntervalSince($0) >= Self.recordsSettle } ?? false)
            let heard = judged.up && agentHeard && !judged.condition.verdict.isSilent
            var seen: [FaultReport] = []
            let stopped = judged.heartbeatsStopped
            if heard, !stopped.isEmpty {
                let lastWrite = health.reports[host]?.datastores.flatMap(\.paths).compactMap(\.lastSuccess).max()
                seen.append(FaultReport(host: host, fault: .storage, evidence: [
                    "its heartbeat records stopped advancing on \(stopped.joined(separator: ", ")), as its peers see, while it answers on management",
                ], faultAt: lastWrite))
            }
            let migration = judged.networks[.migration], vm = judged.networks[.vm]
            let cutKey = "\(host)/\(FaultKind.migrationAndVM.rawValue)"
            if heard, migration?.state == .down, vm?.state == .down { seenSince[cutKey] = seenSince[cutKey] ?? time } else { seenSince[cutKey] = nil }
            // Held for a while first: with one peer, a peer merely suspected reads as a network down.
            if let since = seenSince[cutKey], time.timeIntervalSince(since) >= HostJudgement.networkLossHold {
                seen.append(FaultReport(host: host, fault: .migrationAndVM, evidence: [
                    "its migration and VM networks are down (no link or no peer answers on either) while it answers on management",
                ], faultAt: [migration?.since, vm?.since].compactMap { $0 }.max()))
            }
            switch deadHostFault(host, judged, at: time) {
            case .success(let report): seen.append(report)
            case .failure(let held):
                if actedOn.insert("\(host)/\(FaultKind.host.rawValue)").inserted {
                    events.append(ClusterEvent(at: time, kind: .fault, host: host, subject: FaultKind.host.rawValue, from: FailoverTrigger.external.rawValue,
                                               to: "held back", detail: judged.condition.reasons + [held.reason]))
                }
                continue
            case nil: break
            }
            for fault in FaultKind.allCases where !seen.contains(where: { $0.fault == fault }) { actedOn.remove("\(host)/\(fault.rawValue)") }
            for report in seen where actedOn.insert("\(host)/\(report.fault.rawValue)").inserted {
                _ = try? await reportFault(report, trigger: .external)
            }
        }
    }
}
