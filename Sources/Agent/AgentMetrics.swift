import Metrics
import TetherModel

/// What a host's agent counts, through swift-metrics (Prometheus in tetherd): the host as its
/// heartbeat tells the controller, from the host's own side, so that a host's scrape shows what
/// it sees even while the controller does not hear it.
public enum AgentMetrics {
    /// Help texts, by name: the metrics endpoint writes them as `# HELP` (promtool refuses a
    /// metric without one).
    public static let help: [String: String] = [
        "tether_agent_heartbeats_total": "Heartbeats and registrations the agent sent to the controller, by result (ok or failed).",
        "tether_agent_vms": "VMs on this host by QEMU run state, as the agent last saw them.",
        "tether_agent_devices": "USB devices plugged into this host, as the last inventory found them.",
        "tether_agent_network_state": "This host's own measure of each of its networks: 1 up, 0.5 partial, 0 down, -1 unknown.",
        "tether_agent_path_state": "This host's own measure of each path to each datastore: 1 up, 0.5 partial, 0 down, -1 unknown.",
        "tether_agent_device_traffic_bytes_per_second": "Bytes per second this host's relays carried for each forwarded device (both ways, over the meter's window).",
    ]

    static func heartbeat(ok: Bool) {
        Counter(label: "tether_agent_heartbeats_total", dimensions: [("result", ok ? "ok" : "failed")]).increment()
    }

    /// The host as one heartbeat sends it. Every known state is written, zeros included, so a
    /// state the host left reads 0 rather than its last count.
    static func beat(_ registration: AgentRegistration, health: HostHealthReport?, traffic: [DeviceRate], previousTraffic: [DeviceRate]) {
        var byState: [String: Int] = [:]
        for (_, word) in VMRunState.named { byState[word] = 0 }
        for vm in registration.vms { byState[vm.status.description, default: 0] += 1 }
        for (state, count) in byState { Gauge(label: "tether_agent_vms", dimensions: [("state", state)]).record(count) }
        Gauge(label: "tether_agent_devices").record(registration.devices.count)
        for (role, report) in health?.networks ?? [:] {
            Gauge(label: "tether_agent_network_state", dimensions: [("network", role.rawValue)]).record(report.state.gaugeValue)
        }
        for datastore in health?.datastores ?? [] {
            for path in datastore.paths {
                Gauge(label: "tether_agent_path_state", dimensions: [("datastore", datastore.name), ("path", path.uri)])
                    .record(path.state.gaugeValue)
            }
        }
        // A device no longer forwarded reads 0, not the rate it had when its channel closed.
        let now = Set(traffic.map(\.device))
        for rate in previousTraffic where !now.contains(rate.device) { record(rate.device, 0) }
        for rate in traffic { record(rate.device, rate.bytesPerSecond) }
    }

    private static func record(_ device: String, _ bytesPerSecond: Int) {
        Gauge(label: "tether_agent_device_traffic_bytes_per_second", dimensions: [("device", device)]).record(bytesPerSecond)
    }
}
