import Failover
import Foundation
import Testing
import TetherModel

/// The failure detector: single steps by hand, then whole clusters simulated with loss, delay,
/// dead hosts and partitions. Simulations are seeded; the seed is in each test's arguments.
struct FailureDetectorTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ ms: Int) -> Date { t0.addingTimeInterval(Double(ms) / 1000) }

    @Test func aSilentPeerIsProbedThroughOthersThenSuspectedThenDeclaredDead() throws {
        var detector = FailureDetector(me: "a", peers: ["a", "b", "c", "d"], seed: 1)
        let first = try #require(detector.tick(at: Self.at(0)).messages.first)
        guard case .ping = first.message else { Issue.record("a probe starts with a ping: \(first)"); return }
        let target = first.to
        let asked = detector.tick(at: Self.at(200)).messages
        #expect(Set(asked.map(\.to)) == Set(["b", "c", "d"]).subtracting([target]), "the other peers are asked to probe")
        #expect(asked.allSatisfy { if case .pingRequest(_, target, _) = $0.message { true } else { false } })
        let end = detector.tick(at: Self.at(500))
        #expect(end.changes.contains(MemberUpdate(host: target, state: .suspect, incarnation: 0)))
        #expect(detector.state(of: target) == .suspect)
        let later = detector.tick(at: Self.at(2000))
        #expect(later.changes.contains(MemberUpdate(host: target, state: .dead, incarnation: 0)))
        #expect(detector.state(of: target) == .dead)
    }

    @Test func anAnswerThroughAnotherHostKeepsThePeerAlive() throws {
        var detector = FailureDetector(me: "a", peers: ["a", "b", "c"], seed: 2)
        let ping = try #require(detector.tick(at: Self.at(0)).messages.first)
        let asked = try #require(detector.tick(at: Self.at(200)).messages.first)
        guard case .pingRequest(let sequence, _, _) = asked.message else { Issue.record("\(asked)"); return }
        _ = detector.receive(.ack(sequence: sequence, updates: []), from: asked.to, at: Self.at(300))
        #expect(detector.tick(at: Self.at(500)).changes.isEmpty)
        #expect(detector.state(of: ping.to) == .alive)
    }

    @Test func aHostThatHearsItselfSuspectedRefutesWithAHigherIncarnation() throws {
        var detector = FailureDetector(me: "a", peers: ["a", "b"], seed: 3)
        let reply = detector.receive(.ping(sequence: 7, updates: [MemberUpdate(host: "a", state: .suspect, incarnation: 0)]),
                                     from: "b", at: Self.at(0))
        #expect(reply.messages == [Outgoing(to: "b", .ack(sequence: 7, updates: [MemberUpdate(host: "a", state: .alive, incarnation: 1)]))])
        var other = FailureDetector(me: "b", peers: ["a", "b"], seed: 4)
        _ = other.receive(.ping(sequence: 1, updates: [MemberUpdate(host: "a", state: .suspect, incarnation: 0)]), from: "c", at: Self.at(0))
        #expect(other.state(of: "a") == .suspect)
        _ = other.receive(.ack(sequence: 9, updates: [MemberUpdate(host: "a", state: .alive, incarnation: 1)]), from: "c", at: Self.at(100))
        #expect(other.state(of: "a") == .alive, "the refutation outranks the suspicion")
        _ = other.receive(.ack(sequence: 9, updates: [MemberUpdate(host: "a", state: .suspect, incarnation: 0)]), from: "c", at: Self.at(200))
        #expect(other.state(of: "a") == .alive, "stale news changes nothing")
    }

    struct Scenario: Sendable, CustomTestStringConvertible {
        var hosts: Int
        var lossPercent: UInt64
        var maxDelayMs: Int
        var seed: UInt64
        var testDescription: String { "\(hosts) hosts, \(lossPercent)% loss, delays up to \(maxDelayMs) ms, seed \(seed)" }
    }

    /// Dead hosts are found by every live host. Live hosts whose messages are only delayed
    /// within the probe timeout are never declared dead; where messages are also lost, a live
    /// host wrongly suspected refutes it, and by the end every live host holds every live host
    /// alive.
    @Test(arguments: [Scenario(hosts: 1000, lossPercent: 1, maxDelayMs: 50, seed: 0xC0FFEE),
                      Scenario(hosts: 100, lossPercent: 5, maxDelayMs: 50, seed: 42),
                      Scenario(hosts: 100, lossPercent: 0, maxDelayMs: 80, seed: 43),
                      Scenario(hosts: 10, lossPercent: 0, maxDelayMs: 80, seed: 7)])
    func deadHostsAreFoundAndLiveOnesAreNotHeldDead(_ scenario: Scenario) {
        var sim = DetectorSimulation(hosts: scenario.hosts, lossPercent: scenario.lossPercent, maxDelayMs: scenario.maxDelayMs,
                                     seed: scenario.seed)
        sim.run(seconds: 3)
        let killed = Array(sim.hosts.prefix(max(1, scenario.hosts / 200)))
        sim.silent = Set(killed)
        let killedAt = sim.step
        sim.run(seconds: 12)
        let live = sim.hosts.filter { !sim.silent.contains($0) }
        for host in killed {
            let holding = sim.holdingDead(host).count
            #expect(holding == live.count, "\(scenario): every live host holds \(host) dead (\(holding) of \(live.count))")
        }
        let firstDeath = sim.verdicts.filter { $0.state == .dead && killed.contains($0.about) }.map(\.at).min() ?? Int.max
        #expect(firstDeath - killedAt <= 400, "\(scenario): a dead host is declared dead within 4 s (took \(firstDeath - killedAt) steps)")
        if scenario.lossPercent == 0 {
            let wrongly = sim.verdicts.filter { $0.state == .dead && !killed.contains($0.about) }
            #expect(wrongly.isEmpty, "\(scenario): live hosts declared dead: \(wrongly.prefix(5))")
        }
        let heldDead = live.flatMap { host in sim.holdingDead(host).map { "\($0) holds \(host) dead" } }
        #expect(heldDead.isEmpty, "\(scenario): at the end: \(heldDead.prefix(5))")
    }

    /// What a host sends per second does not grow with the cluster: SWIM probes one peer per
    /// period, however many there are.
    @Test func messagesPerHostStayTheSameFrom10To1000Hosts() {
        var rates: [Int: Double] = [:]
        for hosts in [10, 100, 1000] {
            var sim = DetectorSimulation(hosts: hosts, lossPercent: 1, maxDelayMs: 50, seed: 2026)
            sim.run(seconds: 10)
            rates[hosts] = Double(sim.sent.values.reduce(0, +)) / Double(hosts) / 10
        }
        let low = rates.values.min() ?? 0, high = rates.values.max() ?? 0
        #expect(high < 6, "about two messages per period (a ping and an answer): \(rates)")
        #expect(high / low < 1.25, "the same at 10, 100 and 1,000 hosts: \(rates)")
    }

    /// A host cut off from everyone is declared dead by the rest; when its links come back it
    /// refutes, and every host holds it alive again.
    @Test func aPartitionedHostIsDeclaredDeadAndComesBackWhenItHeals() {
        var sim = DetectorSimulation(hosts: 50, lossPercent: 0, maxDelayMs: 20, seed: 99)
        sim.run(seconds: 2)
        let cut = sim.hosts[7]
        sim.partition = Dictionary(uniqueKeysWithValues: sim.hosts.map { ($0, $0 == cut ? 1 : 0) })
        sim.run(seconds: 10)
        #expect(sim.holdingDead(cut).count == 49, "everyone else holds the cut-off host dead")
        sim.partition = [:]
        sim.run(seconds: 30)   // the cut-off host probes each of its 49 peers within 25 s
        #expect(sim.holdingDead(cut).isEmpty, "once it can talk again, it refutes and is alive everywhere")
        let cutsView = sim.hosts.filter { $0 != cut && sim.detectors[cut]?.state(of: $0) == .dead }
        #expect(cutsView.isEmpty, "and it holds the others alive again: \(cutsView.prefix(5))")
    }
}

/// The members change at run time (the controller's view): added peers are probed, removed
/// ones are forgotten.
struct FailureDetectorMembershipTests {
    @Test func addedPeersAreProbedAndRemovedOnesForgotten() {
        var detector = FailureDetector(me: "a", peers: ["b"], seed: 3)
        var now = Date(timeIntervalSince1970: 0)
        _ = detector.tick(at: now)
        detector.updatePeers(["c", "d", "a"])
        #expect(detector.verdicts == ["c": .alive, "d": .alive])
        var probed: Set<String> = []
        for _ in 0..<40 {
            now += 0.1
            let output = detector.tick(at: now)
            for outgoing in output.messages { probed.insert(outgoing.to) }
        }
        #expect(probed == ["c", "d"], "no probe goes to a removed peer; every added one is probed")
        detector.updatePeers([])
        #expect(detector.verdicts.isEmpty)
        now += 1
        #expect(detector.tick(at: now).messages.isEmpty)
    }
}
