import Foundation
import TetherModel

/// The controller's verdict on each host, from evidence given as values: when it last heard the
/// host, the host's own health report, its peers' reports (their detectors' view of it on every
/// network, and whether they see its datastore heartbeat records advance), and whether the
/// host's kernel answers on its management address. Pure: the time is a value, so the verdicts
/// can be checked exactly for every combination of faults.
///
/// The three faults that look alike from the controller are told apart as vSphere HA does, by
/// asking the other hosts and the datastores: silent to the controller but alive to a peer or
/// on a datastore is a host that lost management; silent everywhere but answering at the kernel
/// is a host whose agent is gone; silent everywhere, datastores included, is a dead host.
public enum HostJudgement {
    /// How long a host's migration and VM networks must both stay down before they count as
    /// lost: with one peer, a peer merely suspected reads as a network down for well under a
    /// second. The controller holds for this time always (its sighting only joins the host's
    /// own report, which comes first).
    public static let networkLossHold: TimeInterval = 2
    /// The host's agent's hold when the kernel says both links have no carrier: a fact, not a
    /// suspicion; held only past a link's bounce.
    public static let linkLossHold: TimeInterval = 0.5

    /// The hold for a host's migration and VM networks as measured.
    public static func networkLossHold(links: [Bool?]) -> TimeInterval {
        links.allSatisfy { $0 == false } ? linkLossHold : networkLossHold
    }

    public struct Settings: Sendable, Equatable {
        /// Heard within this is heard (the spec's 2 s without an answer).
        public var heardWithin: TimeInterval
        /// Silent this long on every network and datastore is dead (the spec's 10 s).
        public var deadAfter: TimeInterval

        public init(heardWithin: TimeInterval = 2, deadAfter: TimeInterval = 10) {
            self.heardWithin = heardWithin
            self.deadAfter = deadAfter
        }
    }

    /// What is known of one host.
    public struct Evidence: Sendable, Equatable {
        public var host: String
        /// The last heartbeat the controller received from it.
        public var lastHeard: Date?
        /// Its last report, whenever it came.
        public var report: HostHealthReport?
        /// The networks and datastores it is configured with.
        public var networks: [NetworkRole]
        public var datastores: [String]
        /// Whether its kernel answered on the management address when last asked (a refused
        /// connection is an answer); nil: not asked.
        public var kernelAnswers: Bool?

        public init(host: String, lastHeard: Date?, report: HostHealthReport?, networks: [NetworkRole], datastores: [String],
                    kernelAnswers: Bool? = nil) {
            self.host = host
            self.lastHeard = lastHeard
            self.report = report
            self.networks = networks
            self.datastores = datastores
            self.kernelAnswers = kernelAnswers
        }
    }

    /// A host's verdict with the networks and datastores as operators should see them.
    public struct Judged: Sendable, Equatable {
        public var condition: HostCondition
        public var networks: [NetworkRole: NetworkReport]
        public var datastores: [DatastoreReport]
        /// Neither dead nor without its agent.
        public var up: Bool
        /// The datastores on which its peers see its heartbeat records stop advancing (and none
        /// sees them advance): the outside view of a lost storage network.
        public var heartbeatsStopped: [String] = []
    }

    /// Judges every host; `peers` are the other hosts' reports, heard or not (a stale report
    /// speaks only for its own time and is skipped).
    public static func judge(_ all: [Evidence], at now: Date, settings: Settings = Settings()) -> [String: Judged] {
        let heard = Dictionary(uniqueKeysWithValues: all.compactMap { e -> (String, HostHealthReport)? in
            guard let report = e.report, isHeard(e, at: now, settings) else { return nil }
            return (e.host, report)
        })
        var out: [String: Judged] = [:]
        for evidence in all { out[evidence.host] = judge(evidence, peers: heard.filter { $0.key != evidence.host }, at: now, settings: settings) }
        return out
    }

    static func isHeard(_ e: Evidence, at now: Date, _ settings: Settings) -> Bool {
        guard let last = e.lastHeard else { return false }
        return now.timeIntervalSince(last) <= settings.heardWithin
    }

    static func judge(_ e: Evidence, peers: [String: HostHealthReport], at now: Date, settings: Settings) -> Judged {
        if isHeard(e, at: now, settings) {
            // An agent without health monitors reports nothing: heard, its networks unknown.
            return judgeHeard(e, report: e.report ?? HostHealthReport(at: now, networks: [:], datastores: []), peers: peers)
        }
        return judgeSilent(e, peers: peers, at: now, settings: settings)
    }

    /// Heard: its own measure stands; peers add only whether its datastore records advance.
    static func judgeHeard(_ e: Evidence, report: HostHealthReport, peers: [String: HostHealthReport]) -> Judged {
        var reasons: [String] = []
        var networks: [NetworkRole: NetworkReport] = [:]
        for role in e.networks {
            let own = report.networks[role] ?? NetworkReport(state: .unknown)
            networks[role] = own
            if own.state == .down || own.state == .partial {
                let silent = own.peers.filter { $0.value != .alive }.keys.sorted()
                reasons.append("\(role.rawValue) network \(own.state.rawValue)" + (own.link == false ? " (link down)" : "")
                               + (silent.isEmpty ? "" : "; no answer from \(silent.joined(separator: ", "))"))
            }
        }
        let datastores = e.datastores.map { name in
            report.datastores.first { $0.name == name } ?? DatastoreReport(name: name, paths: [])
        }
        var storageLost = false
        var heartbeatsStopped: [String] = []
        for store in datastores where !store.paths.isEmpty {
            let down = store.paths.filter { $0.state == .down }
            if down.count == store.paths.count {
                storageLost = true
                reasons.append("datastore \(store.name): every path down (\(down.map(\.uri).joined(separator: ", ")))")
            } else if !down.isEmpty {
                reasons.append("datastore \(store.name): path \(down.map(\.uri).joined(separator: ", ")) down")
            }
            let views = peers.compactMapValues { $0.datastores.first { $0.name == store.name }?.peers[e.host] }
            let stoppedFor = views.filter { !$0.value }.keys.sorted()
            if !stoppedFor.isEmpty {
                reasons.append("its heartbeat records on \(store.name) stopped advancing, as \(stoppedFor.joined(separator: ", ")) see")
                if !views.values.contains(true) { heartbeatsStopped.append(store.name) }
            }
        }
        let verdict: HostVerdict = storageLost ? .storageLost : (reasons.isEmpty ? .healthy : .degraded)
        var judged = Judged(condition: HostCondition(verdict, reasons: reasons), networks: networks, datastores: datastores, up: true)
        judged.heartbeatsStopped = heartbeatsStopped
        return judged
    }

    /// Not heard by the controller: what its peers and the datastores say of it.
    static func judgeSilent(_ e: Evidence, peers: [String: HostHealthReport], at now: Date, settings: Settings) -> Judged {
        var networks: [NetworkRole: NetworkReport] = [:]
        var aliveOn: [String] = []
        for role in e.networks {
            let views = peers.values.compactMap { $0.networks[role]?.peers[e.host] }
            let alive = views.filter { $0 == .alive }.count
            let state: HealthState = views.isEmpty ? .unknown : alive == views.count ? .up : alive > 0 ? .partial : .down
            networks[role] = NetworkReport(state: role == .management && state == .unknown ? .down : state,
                                           address: e.report?.networks[role]?.address)
            if alive > 0 { aliveOn.append(role.rawValue) }
        }
        var datastores: [DatastoreReport] = []
        var advancingOn: [String] = []
        for name in e.datastores {
            let seen = peers.values.compactMap { $0.datastores.first { $0.name == name }?.peers[e.host] }
            if seen.contains(true) { advancingOn.append(name) }
            // Its paths' states are its own to measure: unknown while it is not heard.
            let paths = (e.report?.datastores.first { $0.name == name }?.paths ?? []).map { PathReport(uri: $0.uri, state: .unknown) }
            datastores.append(DatastoreReport(name: name, paths: paths))
        }
        let silentFor = e.lastHeard.map { now.timeIntervalSince($0) }
        let heardLast = silentFor.map { String(format: "not heard for %.1f s", $0) } ?? "never heard"
        let condition: HostCondition
        var up = true
        if !aliveOn.isEmpty || !advancingOn.isEmpty {
            var reasons = ["\(heardLast) by the controller"]
            if !aliveOn.isEmpty { reasons.append("peers hear it on \(aliveOn.joined(separator: ", "))") }
            if !advancingOn.isEmpty { reasons.append("its heartbeat records advance on \(advancingOn.joined(separator: ", "))") }
            condition = HostCondition(.managementLost, reasons: reasons)
        } else if e.kernelAnswers == true {
            up = false
            condition = HostCondition(.agentDown, reasons: ["\(heardLast); silent to every peer and on every datastore",
                                                             "its management address answers at the kernel: the agent is not running"])
        } else if let silentFor, silentFor < settings.deadAfter {
            condition = HostCondition(.silent, reasons: ["\(heardLast); silent to every peer and on every datastore",
                                                          String(format: "dead after %.0f s", settings.deadAfter)])
        } else {
            up = false
            condition = HostCondition(.dead, reasons: ["\(heardLast); silent on every network and datastore"
                                                        + (e.kernelAnswers == false ? "; its management address does not answer" : "")])
        }
        return Judged(condition: condition, networks: networks, datastores: datastores, up: up)
    }
}
