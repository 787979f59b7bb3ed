import ArgumentParser
import Failover
import Foundation
import TetherModel

/// The failure detector's cost as the cluster grows: N detectors (one per host) exchanging their
/// messages in-process with no loss, on a simulated clock, for a simulated minute. Prints
/// messages sent per host per second and the CPU time one host's detector takes per second of
/// cluster time (the state machine only; the UDP send and receive are the kernel's).
struct DetectorBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detector",
                                                    abstract: "The failure detector's messages and CPU per host at 10, 100 and 1,000 hosts.")

    @Option(help: "Cluster sizes.") var hosts: [Int] = [10, 100, 1000]
    @Option(help: "Simulated seconds.") var seconds = 60

    func run() throws {
        print("hosts  messages/host/s  cpu per host (% of a core)  per message")
        for n in hosts {
            let names = (0..<n).map { "h\($0)" }
            var detectors = names.enumerated().map { i, name in FailureDetector(me: name, peers: names, seed: UInt64(i) &+ 1) }
            let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let tick = 0.05
            var messages = 0
            var queue: [(to: Int, from: String, message: MembershipMessage)] = []
            let cpuStart = Self.cpuSeconds()
            for step in 0..<Int(Double(seconds) / tick) {
                let now = start + Double(step) * tick
                for i in detectors.indices {
                    for out in detectors[i].tick(at: now).messages { queue.append((index[out.to] ?? 0, names[i], out.message)) }
                }
                // Delivered within the tick (a fast network): answers go out in the same tick.
                while !queue.isEmpty {
                    let batch = queue
                    queue.removeAll(keepingCapacity: true)
                    messages += batch.count
                    for (to, from, message) in batch {
                        for out in detectors[to].receive(message, from: from, at: now).messages {
                            queue.append((index[out.to] ?? 0, names[to], out.message))
                        }
                    }
                }
            }
            let cpu = Self.cpuSeconds() - cpuStart
            let perHostPerSecond = Double(messages) / Double(n) / Double(seconds)
            let cpuShare = cpu / Double(n) / Double(seconds) * 100
            print(String(format: "%5d  %15.2f  %26.4f  %8.2f us", n, perHostPerSecond, cpuShare, cpu / Double(max(messages, 1)) * 1e6))
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
