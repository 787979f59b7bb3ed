import ArgumentParser
import Foundation
import TetherModel
import TetherSystem
import TetherTestSupport

/// Detection time per network and per storage path in a real lab (`tether lab up`): a link of
/// host-b taken down with `ip link set`, timed until the controller's status shows it (`down`,
/// or `partial` for the storage network whose second path still works), then put back and
/// timed until `up` again. Median and worst of `--runs` per kind. Needs root and a built tether.
struct LabDetectionBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lab-detection",
                                                    abstract: "Fault-to-detection time per network and path in a real lab (root).")

    @Option(help: "Faults of each kind.") var runs = 10
    @Option(help: "The lab's directory.") var dir = "/tmp/tether-lab-benchmark"

    func run() async throws {
        let tether = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tether").path
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: tether) else { throw ValidationError("needs root and tether beside this benchmark") }
        _ = try? await ProcessRunner.run(tether, ["lab", "down", "--dir", dir], timeout: 60)
        let up = try await ProcessRunner.run(tether, ["lab", "up", "--dir", dir], timeout: 180)
        guard up.status == 0 else { throw ValidationError("tether lab up: \(up.stdout)\(up.stderr)") }
        defer { _ = try? ChildProcess.run(tether, ["lab", "down", "--dir", dir]) }
        let socket = "\(dir)/ctl/tetherd.sock"
        try await waitUntil(tether, socket, timeout: 30) { $0.hosts.count == 3 && $0.hosts.allSatisfy { $0.condition.verdict == .healthy } }

        typealias Kind = (name: String, interface: String, check: (ClusterStatus) -> Bool)
        func host(_ name: String, _ status: ClusterStatus) -> HostStatus? { status.hosts.first { $0.name == name } }
        let kinds: [Kind] = [
            ("management lost (verdict)", "mgmt0", { host("host-b", $0)?.condition.verdict == .managementLost }),
            ("migration, host's own (link)", "mig0", { host("host-b", $0)?.networks[.migration]?.state == .down }),
            ("migration, as peers see it", "mig0", { host("host-a", $0)?.networks[.migration]?.state == .partial }),
            ("vm network, host's own (link)", "vm0", { host("host-b", $0)?.networks[.vm]?.state == .down }),
            ("vm network, as peers see it", "vm0", { host("host-a", $0)?.networks[.vm]?.state == .partial }),
            ("storage path 1", "st0", { host("host-b", $0)?.datastores.first?.paths.first?.state == .down }),
            ("storage path 2", "st1", { host("host-b", $0)?.datastores.first?.paths.last?.state == .down }),
        ]
        print("kind                               median    worst   (fault to the controller's status, \(runs) runs)")
        for kind in kinds {
            var times: [Double] = []
            for _ in 0..<runs {
                try await ip(["-n", "tl-host-b", "link", "set", kind.interface, "down"])
                let start = ContinuousClock.now
                try await waitUntil(tether, socket, timeout: 30, kind.check)
                times.append((ContinuousClock.now - start).timeInterval)
                try await ip(["-n", "tl-host-b", "link", "set", kind.interface, "up"])
                try await waitUntil(tether, socket, timeout: 30) { $0.hosts.allSatisfy { $0.condition.verdict == .healthy } }
            }
            times.sort()
            print(kind.name.padding(toLength: 34, withPad: " ", startingAt: 0)
                  + String(format: " %6.2f s %6.2f s", times[times.count / 2], times.last ?? 0))
        }
    }

    private func ip(_ arguments: [String]) async throws {
        let result = try await ProcessRunner.run("/usr/bin/env", ["ip"] + arguments, timeout: 20)
        guard result.status == 0 else { throw ValidationError("ip \(arguments.joined(separator: " ")): \(result.stderr)") }
    }

    private func waitUntil(_ tether: String, _ socket: String, timeout: Double, _ check: (ClusterStatus) -> Bool) async throws {
        let start = ContinuousClock.now
        while (ContinuousClock.now - start).timeInterval < timeout {
            let result = try await ProcessRunner.run(tether, ["status", "--json", "--socket", socket], timeout: 10)
            if result.status == 0, let status = try? APIJSON.decoder().decode(ClusterStatus.self, from: Data(result.stdout.utf8)), check(status) {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ValidationError("not within \(timeout) s")
    }
}
