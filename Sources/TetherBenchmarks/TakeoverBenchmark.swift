import ArgumentParser
import Foundation
import TetherClient
import TetherModel
import TetherTestSupport

/// Controllers on etcd: two real tetherd processes on a real etcd; the leader is killed with
/// SIGKILL, and the time until the standby says it leads (its status, polled every 10 ms) is
/// the takeover. The killed one is started again and becomes the standby for the next run.
struct TakeoverBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "takeover",
                                                    abstract: "Controllers on etcd: a standby leading after kill -9 of the leader.")

    @Option(help: "Kills of the leader.") var runs = 10
    @Option(help: "The leader's lease, seconds.") var leaseSeconds = 2

    func run() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        let etcd = try await EtcdTestCluster(directory: "\(directory)/etcd")
        var processes: [String: BackgroundProcess] = [:]
        defer {
            for (_, p) in processes { p.kill() }
            etcd.killAll()
        }
        func start(_ name: String) async throws {
            processes[name] = try await etcd.startController(name, in: directory, leaseSeconds: leaseSeconds)
        }
        func leader(asking name: String) async -> String? {
            let client = ControllerClient(APIClient(.unixSocket("\(directory)/\(name).sock"), timeout: .seconds(1)))
            defer { Task { await client.api.close() } }
            return try? await client.status().controllers.first { $0.leader }?.name
        }
        try await start("c1")
        guard processes["c1"]!.waitForOutput("leading", timeout: 10) else { throw ValidationError("c1 did not lead") }
        try await start("c2")
        var times: [Duration] = []
        var leading = "c1"
        for _ in 0..<runs {
            let standby = leading == "c1" ? "c2" : "c1"
            try await Task.sleep(for: .seconds(1))   // the standby settled, the lease renewed a few times
            let killed = ContinuousClock.now
            processes[leading]?.kill()
            while await leader(asking: standby) != standby {
                guard ContinuousClock.now - killed < .seconds(30) else { throw ValidationError("\(standby) did not lead within 30 s") }
                try await Task.sleep(for: .milliseconds(10))
            }
            times.append(ContinuousClock.now - killed)
            _ = await processes[leading]?.waitForExit(timeout: 5)
            try await start(leading)
            leading = standby
        }
        let sorted = times.sorted()
        print(String(format: "takeover after kill -9 of the leader (lease %d s, %d runs): median %.2f s, worst %.2f s, best %.2f s",
                     leaseSeconds, runs, sorted[sorted.count / 2].timeInterval, sorted.last!.timeInterval, sorted.first!.timeInterval))
    }
}
