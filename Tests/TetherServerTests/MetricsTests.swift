import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TetherModel
@testable import Controller
@testable import TetherServer

/// What tetherd serves on GET /metrics (Prometheus text): the controller's decisions, operations
/// and hosts, as they happen.
struct MetricsTests {
    @Test func decisionsAndHostsShowOnTheMetricsEndpoint() async throws {
        MetricsEndpoint.bootstrap()
        let (store, _) = try ClusterFixtures.temporaryStore()
        let controller = try await Controller(store: store) { UnreachableAgent(host: $0.host) }
        try await controller.register(ClusterFixtures.hostA)
        try await controller.register(ClusterFixtures.hostB)
        let before = Self.count(in: MetricsEndpoint.registry.emitToString(), "tether_attach_decisions_total{action=\"forward\",dry_run=\"true\"}")
        for _ in 0..<3 {
            _ = try await controller.attach(AttachRequest(container: "c1", device: .port(DeviceRef("host-b/1-4")!), dryRun: true))
        }
        try await Application(router: MetricsEndpoint.router()).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(Self.count(in: text, "tether_attach_decisions_total{action=\"forward\",dry_run=\"true\"}") == before + 3, "\(text)")
                #expect(text.contains("tether_hosts{state=\"up\"} 2"), "\(text)")
                #expect(text.contains("tether_attach_decision_seconds"), "\(text)")
            }
        }
    }

    static func count(in text: String, _ series: String) -> Int {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Int(Double($0.split(separator: " ").last ?? "") ?? 0) } ?? 0
    }
}
