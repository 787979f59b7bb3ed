import Failover
import Foundation
import TetherModel

/// A whole cluster's failure detectors on one network, simulated in-process and seeded: time in
/// 10 ms steps, every host ticking each 100 ms, messages delayed, lost, or cut by a partition or
/// a dead host. Every verdict change is recorded with its time.
struct DetectorSimulation {
    struct Verdict: Equatable {
        var observer: String
        var about: String
        var state: MemberState
        var at: Int
    }

    let hosts: [String]
    var detectors: [String: FailureDetector]
    /// Hosts that neither send nor receive (dead, or cut off from everyone).
    var silent: Set<String> = []
    /// Host to group: messages between groups are lost.
    var partition: [String: Int] = [:]
    var lossPercent: UInt64
    var maxDelaySteps: UInt64
    var random: SplitMix64
    var step = 0
    var inFlight: [Int: [(from: String, to: String, message: MembershipMessage)]] = [:]
    var verdicts: [Verdict] = []
    var sent: [String: Int] = [:]
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    init(hosts count: Int, lossPercent: UInt64, maxDelayMs: Int, seed: UInt64, settings: FailureDetector.Settings = .init()) {
        hosts = (0..<count).map { String(format: "host-%04d", $0) }
        var random = SplitMix64(seed: seed)
        var detectors: [String: FailureDetector] = [:]
        for host in hosts { detectors[host] = FailureDetector(me: host, peers: hosts, settings: settings, seed: random.next()) }
        self.detectors = detectors
        self.lossPercent = lossPercent
        maxDelaySteps = UInt64(maxDelayMs / 10)
        self.random = random
    }

    var now: Date { start.addingTimeInterval(Double(step) / 100) }

    /// Runs for `seconds` of simulated time.
    mutating func run(seconds: Double) {
        let end = step + Int(seconds * 100)
        while step < end {
            let time = now
            for (from, to, message) in inFlight.removeValue(forKey: step) ?? [] where !silent.contains(to) {
                let output = detectors[to]?.receive(message, from: from, at: time)
                apply(to, output)
            }
            if step % 10 == 0 {
                for host in hosts where !silent.contains(host) {
                    let output = detectors[host]?.tick(at: time)
                    apply(host, output)
                }
            }
            step += 1
        }
    }

    private mutating func apply(_ host: String, _ output: DetectorOutput?) {
        guard let output else { return }
        for change in output.changes { verdicts.append(Verdict(observer: host, about: change.host, state: change.state, at: step)) }
        for outgoing in output.messages {
            sent[host, default: 0] += 1
            if partition[host] != partition[outgoing.to] { continue }
            if random.next() % 100 < lossPercent { continue }
            let delay = maxDelaySteps == 0 ? 0 : Int(random.next() % (maxDelaySteps + 1))
            inFlight[step + 1 + delay, default: []].append((host, outgoing.to, outgoing.message))
        }
    }

    /// The live hosts that hold `host` dead now.
    func holdingDead(_ host: String) -> [String] {
        hosts.filter { !silent.contains($0) && $0 != host && detectors[$0]?.state(of: host) == .dead }
    }
}
