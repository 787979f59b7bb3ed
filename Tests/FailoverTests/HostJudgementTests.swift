import Failover
import Foundation
import TetherModel
import Testing

/// The controller's verdicts, for every fault that looks alike from the controller: each case
/// is a cluster of three hosts as values, and what the controller must conclude about host-a.
@Suite struct HostJudgementTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let roles = NetworkRole.allCases
    static let paths = ["nbd://10.83.0.1:10809", "nbd://10.84.0.1:10809"]

    /// A report in which every network is up with every peer alive, and both paths up, except
    /// where the arguments say otherwise.
    static func report(_ host: String, at time: Date, peersDead: [NetworkRole: [String]] = [:], linkDown: Set<NetworkRole> = [],
                       pathsDown: Set<String> = [], recordsStopped: [String] = [], recordsAdvancing: [String] = []) -> HostHealthReport {
        let others = ["host-a", "host-b", "host-c"].filter { $0 != host }
        var networks: [NetworkRole: NetworkReport] = [:]
        for role in roles {
            let dead = Set(peersDead[role] ?? [])
            let peers = Dictionary(uniqueKeysWithValues: others.map { ($0, dead.contains($0) ? PeerState.dead : .alive) })
            let alive = peers.values.filter { $0 == .alive }.count
            let state: HealthState = linkDown.contains(role) ? .down : alive == peers.count ? .up : alive == 0 ? .down : .partial
            networks[role] = NetworkReport(state: state, link: !linkDown.contains(role), peers: peers)
        }
        var seen: [String: Bool] = [:]
        for peer in recordsAdvancing { seen[peer] = true }
        for peer in recordsStopped { seen[peer] = false }
        let store = DatastoreReport(name: "ds1", paths: paths.map { PathReport(uri: $0, state: pathsDown.contains($0) ? .down : .up) },
                                    peers: seen)
        return HostHealthReport(at: time, networks: networks, datastores: [store])
    }

    static func evidence(_ host: String, heard: Date?, report: HostHealthReport?, kernel: Bool? = nil) -> HostJudgement.Evidence {
        HostJudgement.Evidence(host: host, lastHeard: heard, report: report, networks: roles, datastores: ["ds1"], kernelAnswers: kernel)
    }

    func judgeA(_ a: HostJudgement.Evidence, b: HostHealthReport, c: HostHealthReport, at now: Date) -> HostJudgement.Judged? {
        HostJudgement.judge([a, Self.evidence("host-b", heard: now, report: b), Self.evidence("host-c", heard: now, report: c)], at: now)["host-a"]
    }

    @Test func aHealthyHostIsHealthy() throws {
        let now = Self.t0
        let judged = try #require(judgeA(Self.evidence("host-a", heard: now, report: Self.report("host-a", at: now)),
                                         b: Self.report("host-b", at: now), c: Self.report("host-c", at: now), at: now))
        #expect(judged.condition.verdict == .healthy)
        #expect(judged.up)
        #expect(judged.networks.values.allSatisfy { $0.state == .up })
    }

    @Test func oneDeadPathIsDegradedAndBothAreStorageLost() throws {
        let now = Self.t0
        let one = try #require(judgeA(Self.evidence("host-a", heard: now, report: Self.report("host-a", at: now, pathsDown: [Self.paths[0]])),
                                      b: Self.report("host-b", at: now), c: Self.report("host-c", at: now), at: now))
        #expect(one.condition.verdict == .degraded)
        #expect(one.datastores.first?.paths.map(\.state) == [.down, .up])
        let both = try #require(judgeA(Self.evidence("host-a", heard: now, report: Self.report("host-a", at: now, pathsDown: Set(Self.paths))),
                                       b: Self.report("host-b", at: now, recordsStopped: ["host-a"]),
                                       c: Self.report("host-c", at: now), at: now))
        #expect(both.condition.verdict == .storageLost)
        #expect(both.condition.reasons.contains { $0.contains("every path down") })
        #expect(both.condition.reasons.contains { $0.contains("stopped advancing") && $0.contains("host-b") })
        #expect(both.heartbeatsStopped == ["ds1"], "no peer sees host-a's records advance")
    }

    /// The outside view of a lost storage network (the controller's trigger): peers see the host's
    /// records stop while it is heard; one peer that still sees them advance is not that.
    @Test func recordsStoppedForEveryPeerIsTheOutsideViewOfStorageLoss() throws {
        let now = Self.t0
        let a = Self.evidence("host-a", heard: now, report: Self.report("host-a", at: now))
        let stopped = try #require(judgeA(a, b: Self.report("host-b", at: now, recordsStopped: ["host-a"]),
                                          c: Self.report("host-c", at: now, recordsStopped: ["host-a"]), at: now))
        #expect(stopped.heartbeatsStopped == ["ds1"])
        #expect(stopped.up)
        let mixed = try #require(judgeA(a, b: Self.report("host-b", at: now, recordsStopped: ["host-a"]),
                                        c: Self.report("host-c", at: now, recordsAdvancing: ["host-a"]), at: now))
        #expect(mixed.heartbeatsStopped.isEmpty, "host-c still sees them advance: a peer's own path, not host-a's storage")
        let fine = try #require(judgeA(a, b: Self.report("host-b", at: now), c: Self.report("host-c", at: now), at: now))
        #expect(fine.heartbeatsStopped.isEmpty)
    }

    @Test func aNetworkDownOnAHeardHostIsDegradedWithItsPeers() throws {
        let now = Self.t0
        let judged = try #require(judgeA(
            Self.evidence("host-a", heard: now, report: Self.report("host-a", at: now, peersDead: [.migration: ["host-b", "host-c"]],
                                                                        linkDown: [.migration])),
            b: Self.report("host-b", at: now, peersDead: [.migration: ["host-a"]]),
            c: Self.report("host-c", at: now, peersDead: [.migration: ["host-a"]]), at: now))
        #expect(judged.condition.verdict == .degraded)
        #expect(judged.networks[.migration]?.state == .down)
        #expect(judged.condition.reasons.contains { $0.contains("migration network down (link down)") })
    }

    /// Management cut: the controller does not hear it, the peers do on the other networks.
    @Test func managementLostIsNotDeath() throws {
        let now = Self.t0
        let judged = try #require(judgeA(
            Self.evidence("host-a", heard: now - 30, report: Self.report("host-a", at: now - 30), kernel: false),
            b: Self.report("host-b", at: now, peersDead: [.management: ["host-a"]], recordsAdvancing: ["host-a"]),
            c: Self.report("host-c", at: now, peersDead: [.management: ["host-a"]]), at: now))
        #expect(judged.condition.verdict == .managementLost)
        #expect(judged.up)
        #expect(judged.networks[.management]?.state == .down)
        #expect(judged.networks[.migration]?.state == .up)
        #expect(judged.condition.reasons.contains { $0.contains("peers hear it on migration, vm, storage") })
    }

    /// Every network cut but its records still advance: isolated on the networks, alive on storage.
    @Test func advancingRecordsAloneKeepAHostAlive() throws {
        let now = Self.t0
        let allDead = Dictionary(uniqueKeysWithValues: Self.roles.map { ($0, ["host-a"]) })
        let judged = try #require(judgeA(Self.evidence("host-a", heard: now - 30, report: nil),
                                         b: Self.report("host-b", at: now, peersDead: allDead, recordsAdvancing: ["host-a"]),
                                         c: Self.report("host-c", at: now, peersDead: allDead), at: now))
        #expect(judged.condition.verdict == .managementLost)
        #expect(judged.networks.values.allSatisfy { $0.state == .down })
    }

    /// Its agent killed: silent everywhere, but the kernel refuses the connection.
    @Test func aKilledAgentIsNotADeadHost() throws {
        let now = Self.t0
        let allDead = Dictionary(uniqueKeysWithValues: Self.roles.map { ($0, ["host-a"]) })
        let b = Self.report("host-b", at: now, peersDead: allDead, recordsStopped: ["host-a"])
        let c = Self.report("host-c", at: now, peersDead: allDead)
        let killed = try #require(judgeA(Self.evidence("host-a", heard: now - 30, report: nil, kernel: true), b: b, c: c, at: now))
        #expect(killed.condition.verdict == .agentDown)
        #expect(!killed.up)
        let gone = try #require(judgeA(Self.evidence("host-a", heard: now - 30, report: nil, kernel: false), b: b, c: c, at: now))
        #expect(gone.condition.verdict == .dead)
        #expect(!gone.up)
    }

    /// Silent everywhere: suspected until the dead time, dead after it; never dead before.
    @Test(arguments: [(3.0, HostVerdict.silent), (9.9, .silent), (10.1, .dead), (60, .dead)])
    func aSilentHostIsDeadOnlyAfterTheDeadTime(silentFor: Double, expected: HostVerdict) throws {
        let now = Self.t0
        let allDead = Dictionary(uniqueKeysWithValues: Self.roles.map { ($0, ["host-a"]) })
        let judged = try #require(judgeA(Self.evidence("host-a", heard: now - silentFor, report: nil),
                                         b: Self.report("host-b", at: now, peersDead: allDead),
                                         c: Self.report("host-c", at: now, peersDead: allDead), at: now))
        #expect(judged.condition.verdict == expected)
    }

    /// A peer's stale report speaks for no one: host-b silent too, only host-c's view counts.
    @Test func stalePeerReportsAreNotEvidence() throws {
        let now = Self.t0
        let a = Self.evidence("host-a", heard: now - 30, report: nil)
        let staleB = Self.evidence("host-b", heard: now - 30, report: Self.report("host-b", at: now - 30))
        let c = Self.evidence("host-c", heard: now, report: Self.report("host-c", at: now, peersDead: [.management: ["host-a", "host-b"],
                                                                                                          .migration: ["host-a", "host-b"],
                                                                                                          .vm: ["host-a", "host-b"],
                                                                                                          .storage: ["host-a", "host-b"]]))
        let judged = HostJudgement.judge([a, staleB, c], at: now)
        #expect(judged["host-a"]?.condition.verdict == .dead)
        #expect(judged["host-b"]?.condition.verdict == .dead)
        #expect(judged["host-c"]?.condition.verdict == .degraded)   // it hears no peer itself
    }

    /// Migration and VM networks down with no carrier on either link are lost after a bounce's
    /// time; down by their peers' silence alone (a link up, or not known), after the full hold.
    @Test func linksWithoutCarrierAreHeldOnlyPastABounce() {
        #expect(HostJudgement.networkLossHold(links: [false, false]) == HostJudgement.linkLossHold)
        #expect(HostJudgement.networkLossHold(links: [false, true]) == HostJudgement.networkLossHold)
        #expect(HostJudgement.networkLossHold(links: [false, nil]) == HostJudgement.networkLossHold)
        #expect(HostJudgement.linkLossHold < HostJudgement.networkLossHold)
    }
}
