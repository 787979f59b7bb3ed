import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// Both roles' /metrics, scraped from real daemons after a forwarded attach, pass Prometheus's
/// own check (`promtool check metrics`: every metric has its help, names follow the rules), and
/// carry what each role counts.
@Suite(.serialized, .requires(ClusterHarness.canRun && Tools.which("promtool") != nil,
                              "root, iproute2, umockdev, QEMU, and promtool (Debian's prometheus)"))
struct MetricsScrapeTests {
    static func promtool(_ text: String) async throws -> ProcessResult {
        let file = try Fixtures.temporaryDirectory().appendingPathComponent("metrics.txt")
        try Data(text.utf8).write(to: file)
        // promtool reads the scrape on its standard input.
        return try await ProcessRunner.run("/bin/sh", ["-c", "promtool check metrics < '\(file.path)'"], timeout: 30)
    }

    @Test func promtoolAcceptsTheControllersAndTheAgentsMetrics() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let attach = try await cluster.tether(["attach", "--container", "c1", "--device", "1a86:7523"])
        #expect(attach.status == 0, "\(attach.stdout)\(attach.stderr)")
        try await Task.sleep(for: .seconds(1.5))   // a few heartbeats with the channel's rate
        let controller = try await cluster.fetch(namespace: 0, port: 9400, path: "/metrics")
        let agent = try await cluster.fetch(namespace: 2, port: 9401, path: "/metrics")
        for (role, text, expected) in [("controller", controller, ["tether_attach_decisions_total", "tether_operations_total", "tether_step_seconds",
                                                                   "tether_hosts"]),
                                       ("agent", agent, ["tether_agent_heartbeats_total", "tether_agent_devices", "tether_agent_vms"])] {
            for name in expected {
                #expect(text.contains("# HELP \(name) "), "\(role) describes \(name): \(text.prefix(3000))")
                #expect(text.contains("# TYPE \(name) "), "\(role) types \(name)")
            }
            let check = try await Self.promtool(text)
            #expect(check.status == 0, "promtool on the \(role)'s metrics: \(check.stdout)\(check.stderr)")
        }
        #expect(agent.contains("tether_agent_devices 2"), "host-b's two recorded devices: \(agent.prefix(3000))")
        #expect(agent.contains("tether_agent_heartbeats_total{result=\"ok\"}"))
    }
}
