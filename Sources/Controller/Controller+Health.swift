import Failover
import Foundation
import Metrics
import TetherModel

/// Each host's last health report and what the controller concluded from all of them.
struct HealthBook {
    var reports: [String: HostHealthReport] = [:]
    /// Whether each silent host's kernel answered on its management address when last asked.
    var kernelAnswers: [String: Bool] = [:]
    /// The verdicts as last evaluated, each with the time it began.
    var conditions: [String: HostCondition] = [:]
    var judged: [String: HostJudgement.Judged] = [:]
}

extension Controller {
    /// The verdict on every registered host now, from the reports, heartbeats and kernel probes.
    func judgeHosts() -> [String: HostJudgement.Judged] {
        let evidence = registrations.values.map { r in
            HostJudgement.Evidence(host: r.host, lastHeard: lastHeartbeat[r.host], report: health.reports[r.host],
                                   networks: r.networks.keys.sorted(), datastores: r.datastores,
                                   kernelAnswers: health.kernelAnswers[r.host])
        }
        return HostJudgement.judge(evidence, at: now(), settings: settings.judgement)
    }

    /// Judges every host, and records what changed since the last evaluation as events (with the
    /// time from the last good measure to now, the detection time) and metrics. Returns the hosts
    /// not heard, with their agent addresses, for the kernel probe.
    @discardableResult
    public func evaluateHealth() -> [(host: String, address: HostPort)] {
        let time = now()
        let judged = judgeHosts()
        for (host, verdict) in judged.sorted(by: { $0.key < $1.key }) {
            let before = health.judged[host]
            noteNetworks(host, before: before, after: verdict, at: time)
            notePaths(host, before: before, after: verdict, at: time)
            if before?.condition.verdict != verdict.condition.verdict {
                var condition = verdict.condition
                condition.since = time
                health.conditions[host] = condition
                let silentSince = lastHeartbeat[host].map { time.timeIntervalSince($0) }
                events.append(ClusterEvent(at: time, kind: .host, host: host, subject: host, from: before?.condition.verdict.rawValue,
                                           to: condition.verdict.rawValue, detail: condition.reasons,
                                           detectionSeconds: condition.verdict == .healthy ? nil : silentSince))
                if condition.verdict != .healthy && condition.verdict != .degraded, let silentSince {
                    ControllerMetrics.detected("host-\(condition.verdict.rawValue)", after: silentSince)
                }
            } else if var condition = health.conditions[host] {
                condition.reasons = verdict.condition.reasons
                health.conditions[host] = condition
            }
            health.judged[host] = verdict
        }
        for host in health.judged.keys where judged[host] == nil { health.judged[host] = nil }
        noteSignsOfLife(judged, at: time)
        return judged.filter { $0.value.condition.verdict.isSilent }.compactMap { host, _ in
            registrations[host].map { (host, $0.agentAddress) }
        }.sorted { $0.host < $1.host }
    }

    public func setKernelAnswers(_ host: String, _ answers: Bool?) {
        health.kernelAnswers[host] = answers
    }

    private func noteNetworks(_ host: String, before: HostJudgement.Judged?, after: HostJudgement.Judged, at time: Date) {
        for (role, network) in after.networks.sorted(by: { $0.key < $1.key }) {
            ControllerMetrics.state(of: "network", host: host, name: role.rawValue, network.state)
            let old = before?.networks[role]?.state
            guard old != network.state, !(old == nil && (network.state == .up || network.state == .unknown)) else { continue }
            let since = network.since.map { time.timeIntervalSince($0) }
            let detection = network.state == .up ? nil : lastGood(host, role: role).map { time.timeIntervalSince($0) } ?? since
            events.append(ClusterEvent(at: time, kind: .network, host: host, subject: role.rawValue, from: old?.rawValue,
                                       to: network.state.rawValue, detail: networkDetail(network), detectionSeconds: detection))
            if let detection, network.state != .up, network.state != .unknown { ControllerMetrics.detected("network", after: detection) }
        }
    }

    private func notePaths(_ host: String, before: HostJudgement.Judged?, after: HostJudgement.Judged, at time: Date) {
        for store in after.datastores {
            for path in store.paths {
                ControllerMetrics.state(of: "path", host: host, name: "\(store.name) \(path.uri)", path.state)
                let old = before?.datastores.first { $0.name == store.name }?.paths.first { $0.uri == path.uri }?.state
                guard old != path.state, !(old == nil && (path.state == .up || path.state == .unknown)) else { continue }
                let detection = path.state == .down ? path.lastSuccess.map { time.timeIntervalSince($0) } : nil
                events.append(ClusterEvent(at: time, kind: .path, host: host, subject: "\(store.name) \(path.uri)", from: old?.rawValue,
                                           to: path.state.rawValue, detectionSeconds: detection))
                if let detection { ControllerMetrics.detected("path", after: detection) }
            }
        }
    }

    /// When the host last measured the network good, from its report's `since` of the change.
    private func lastGood(_ host: String, role: NetworkRole) -> Date? {
        health.reports[host]?.networks[role]?.since
    }

    private func networkDetail(_ network: NetworkReport) -> [String] {
        var detail: [String] = []
        if let link = network.link { detail.append("link \(link ? "up" : "down")") }
        let silent = network.peers.filter { $0.value != .alive }.keys.sorted()
        if !silent.isEmpty { detail.append("no answer from \(silent.joined(separator: ", "))") }
        return detail
    }

    /// The last `limit` events, oldest first.
    public func recentEvents(limit: Int) -> [ClusterEvent] {
        events.after(max(0, events.lastSequence - limit))
    }

    /// The events after `sequence`; when there are none yet, waits up to `wait` for one (woken
    /// by it, not polling: every open page and `tether events --follow` waits here).
    public func events(after sequence: Int, wait: Duration) async -> EventPage {
        var found = events.after(sequence)
        if found.isEmpty && wait > .zero && !Task.isCancelled {
            await nextEvent(within: wait)
            found = events.after(sequence)
        }
        return EventPage(events: found, next: found.last?.sequence ?? max(sequence, 0))
    }

    private func nextEvent(within wait: Duration) async {
        await self.wait(at: events.waiters.placeInLine(), of: .events, within: wait)
    }
}

extension HostVerdict {
    /// The controller does not hear the host: worth asking its kernel.
    var isSilent: Bool { [.managementLost, .agentDown, .silent, .dead].contains(self) }
}
