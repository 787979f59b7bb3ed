import ArgumentParser
import Foundation
import Hypervisor
import TetherTestSupport

/// Live migration of a VM whose RAM is filled with a random pattern, over loopback: Tether's
/// driver next to QEMU's own figures, and next to a minimal direct QMP script, runs interleaved.
struct MigrationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migration", abstract: "Live migration: driver vs QEMU vs a direct QMP script.")

    @Option(help: "Guest RAM in MiB, all of it a random pattern.") var memoryMib = 1024
    @Option(help: "Migration bandwidth cap, MB/s (QEMU's own default is 128 MiB/s).") var maxBandwidth = 10_000
    @Option(help: "Runs of each.") var runs = 3
    @Option(help: "Configured downtime limit, ms.") var downtimeMs = 300

    /// Medians: QEMU's own total and the driver's (or the script's), per path, and downtimes.
    struct Figures {
        var qemuDriver: Double, driver: Double, driverDowntime: Double
        var qemuScript: Double, script: Double, scriptDowntime: Double
        var transferredBytes: Double
        /// Medians of each run's own difference, not differences of medians: QEMU's totals
        /// vary by hundreds of milliseconds from run to run here.
        var driverAdded: Double
        var scriptAdded: Double
    }

    func run() async throws {
        let f = try await measure()
        print("Live migration, \(memoryMib) MiB guest RAM filled with a random pattern, loopback, cap \(maxBandwidth) MB/s, \(VMSpec.hostAccelerator.rawValue), downtime limit \(downtimeMs) ms; medians of \(runs)")
        print(pad("", 24) + pad("QEMU total (ms)", 17) + pad("driver/script total", 21) + pad("added (ms)", 12) + "downtime (ms)")
        print(pad("Tether driver", 24) + pad(fixed(f.qemuDriver, 0), 17) + pad(fixed(f.driver, 1), 21) + pad(fixed(f.driverAdded, 1), 12)
              + fixed(f.driverDowntime, 0))
        print(pad("direct QMP script", 24) + pad(fixed(f.qemuScript, 0), 17) + pad(fixed(f.script, 1), 21) + pad(fixed(f.scriptAdded, 1), 12)
              + fixed(f.scriptDowntime, 0))
        print("transferred: \(fixed(f.transferredBytes / 1e6, 0)) MB per migration; driver minus script: \(fixed(f.driverAdded - f.scriptAdded, 1)) ms")
    }

    func measure() async throws -> Figures {
        guard QEMUTestbed.isAvailable else { throw ValidationError("needs qemu-system-x86_64: apt-get install qemu-system-x86") }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Benchmarks/direct_qmp_migrate.py").path
        let fill = memoryMib << 20
        var tether: [MigrationResult] = []
        var direct: [(qemu: Double, script: Double, downtime: Double)] = []
        try await QEMUTestbed.with { bed in
            try bed.pattern("fill.bin", size: fill, seed: 1)
            func pair(_ tag: String) async throws -> (QEMUMachine, QEMUMachine) {
                let source = try await bed.launch(VMSpec(name: "src\(tag)", memoryMiB: memoryMib, memoryFile: bed.path("fill.bin")))
                let target = try await bed.launch(VMSpec(name: "dst\(tag)", memoryMiB: memoryMib, incoming: true))
                // Both QEMUs left to finish starting before either path begins: the script's path
                // otherwise had Python's start-up to settle in and the driver's had none, and a
                // QEMU still starting answers its first commands late on two cores.
                try await Task.sleep(for: .milliseconds(500))
                return (source, target)
            }
            for run in 0..<runs {
                let (source, target) = try await pair("t\(run)")
                let result = try await source.migrate(to: target, uri: "tcp:127.0.0.1:\(try QEMUTestbed.freePort())",
                                                      options: MigrationOptions(downtimeLimitMs: downtimeMs,
                                                                                maxBandwidthBytesPerSecond: maxBandwidth * 1_000_000)) { _ in }
                tether.append(result)
                print("run \(run + 1): driver: QEMU \(result.totalTimeMs) ms, driver \(fixed(result.driverTotalMs, 1)) ms, downtime \(result.downtimeMs) ms, "
                      + "\(result.transferredBytes / 1_000_000) MB")
                try await source.quit()
                try await target.quit()

                let (s2, t2) = try await pair("d\(run)")
                await s2.qmp.close()
                await t2.qmp.close()
                let out = try await ProcessRunner.run("/usr/bin/python3", [script, bed.path("src\("d\(run)").qmp"), bed.path("dst\("d\(run)").qmp"),
                                                                     "tcp:127.0.0.1:\(try QEMUTestbed.freePort())", "\(downtimeMs)",
                                                                     "\(maxBandwidth * 1_000_000)"], timeout: 600)
                guard out.status == 0, let data = out.stdout.data(using: .utf8),
                      let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    throw ValidationError("the direct QMP script failed: \(out.stderr)")
                }
                let number = { (key: String) in (json[key] as? NSNumber)?.doubleValue ?? 0 }
                direct.append((number("totalTimeMs"), number("scriptTotalMs"), number("downtimeMs")))
                print("run \(run + 1): script: QEMU \(number("totalTimeMs")) ms, script \(fixed(number("scriptTotalMs"), 1)) ms, downtime \(number("downtimeMs")) ms")
                try await s2.quit()
                try await t2.quit()
            }
        }
        return Figures(qemuDriver: median(tether.map { Double($0.totalTimeMs) }), driver: median(tether.map(\.driverTotalMs)),
                       driverDowntime: median(tether.map { Double($0.downtimeMs) }),
                       qemuScript: median(direct.map(\.qemu)), script: median(direct.map(\.script)), scriptDowntime: median(direct.map(\.downtime)),
                       transferredBytes: median(tether.map { Double($0.transferredBytes) }),
                       driverAdded: median(tether.map { $0.driverTotalMs - Double($0.totalTimeMs) }),
                       scriptAdded: median(direct.map { $0.script - $0.qemu }))
    }
}
