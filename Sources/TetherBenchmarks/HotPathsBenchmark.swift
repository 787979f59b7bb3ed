import ArgumentParser

/// `tether-benchmark hot-paths`: issue 17's table in one run. Tether's figure on each hot path
/// next to its anchor measured in the same run (socat, stunnel, a direct QMP script), with the
/// goal and whether it is met. Each row's benchmark can also be run alone, with its details.
struct HotPathsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hot-paths",
                                                    abstract: "Relay, controller and migration driver against their anchors and goals.")

    func run() async throws {
        print("== relay (tether-benchmark relay --bytes 268435456 --runs 3)")
        let relay = try await RelayBenchmark.parse(["--bytes", "268435456", "--runs", "3"]).measure()
        print("== controller (tether-benchmark controller --seconds 5 --attaches 50)")
        let controller = try await ControllerBenchmark.parse(["--seconds", "5", "--attaches", "50"]).measure()
        print("== migration (tether-benchmark migration --memory-mib 256 --runs 5)")
        let migration = try await MigrationBenchmark.parse(["--memory-mib", "256", "--runs", "5"]).measure()

        let row = { (name: String) in relay.first { $0.name == name } ?? RelayBenchmark.Row(name: name, throughput: 0, p50: 0, p99: 0) }
        let plain = row(RelayBenchmark.plain), socat = row(RelayBenchmark.socat), floor = row(RelayBenchmark.floor), tls = row(RelayBenchmark.tls), stunnel = row(RelayBenchmark.stunnel)
        let met = { (ok: Bool) in ok ? "met" : "NOT met" }
        let lines: [[String]] = [
            ["path", "Tether", "anchor, same run", "goal", ""],
            ["relay, added RTT p50, 64 B, plaintext", "\(fixed(plain.p50, 1)) us", "socat \(fixed(socat.p50, 1)) us; floor \(fixed(floor.p50, 1)) us", "under socat and 50 us",
             met(plain.p50 < socat.p50 && plain.p50 < 50)],
            ["relay, added RTT p50, mutual TLS 1.3", "\(fixed(tls.p50, 1)) us", "stunnel \(fixed(stunnel.p50, 1)) us", "under stunnel", met(tls.p50 < stunnel.p50)],
            ["relay throughput", "\(fixed(plain.throughput, 0)) plain, \(fixed(tls.throughput, 0)) TLS MB/s",
             "socat \(fixed(socat.throughput, 0)), stunnel \(fixed(stunnel.throughput, 0))", "keep the lead",
             met(plain.throughput > socat.throughput && tls.throughput > stunnel.throughput)],
            ["controller, dry-run decisions/s, 4 clients, 1,000 hosts", "\(fixed(controller.decisionsPerSecond, 0)) (p50 \(fixed(controller.decisionP50, 2)) ms)",
             "the decision alone: `placement`", "at least 10,000", met(controller.decisionsPerSecond >= 10_000)],
            ["controller alone (own process), CPU per decision", controller.controllerProcess.map { "\(fixed($0.controllerCPU, 0)) us: \(fixed($0.capacity, 0))/s on these cores" } ?? "-",
             controller.controllerProcess.map { "the clients' \(fixed($0.clientsCPU, 0)) us" } ?? "-", "the same 10,000, clients elsewhere",
             met((controller.controllerProcess?.capacity ?? 0) >= 10_000)],
            ["controller, real attach to first agent action, p50", "\(fixed(controller.attachP50, 2)) ms", "two fsyncs", "under 3 ms",
             met(controller.attachP50 < 3)],
            ["migration driver, added over QEMU's total, 256 MiB", "\(fixed(migration.driverAdded, 1)) ms", "script \(fixed(migration.scriptAdded, 1)) ms",
             "within 2 ms of the script", met(migration.driverAdded - migration.scriptAdded <= 2)],
        ]
        let widths = (0..<5).map { column in lines.map { $0[column].count }.max() ?? 0 }
        print("")
        for line in lines {
            print(zip(line, widths).map { pad($0, $1 + 2) }.joined())
        }
    }
}
