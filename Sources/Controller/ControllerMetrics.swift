import Failover
import Foundation
import Metrics
import TetherModel

/// What the controller counts and times, through swift-metrics (Prometheus in tetherd, nothing
/// where no backend is bootstrapped).
public enum ControllerMetrics {
    /// Help texts, by name: the metrics endpoint writes them as `# HELP` (promtool refuses a
    /// metric without one).
    public static let help: [String: String] = [
        "tether_attach_decisions_total": "Attach decisions made, by action (migrate or forward) and whether it was a dry run.",
        "tether_attach_decision_seconds": "Time to decide one attach: resolve the device, place the VM.",
        "tether_operations_total": "Journaled operations that ended, by kind and final state.",
        "tether_recovery_seconds": "From a fault (its last good measure) to the VM running again, per fault kind.",
        "tether_step_seconds": "Time each operation step took, by step.",
        "tether_detection_seconds": "From a fault (its last good measure) to the controller knowing of it, per fault kind.",
        "tether_network_state": "Each host's network as the controller sees it: 1 up, 0.5 partial, 0 down, -1 unknown.",
        "tether_path_state": "Each host's path to a datastore as the controller sees it: 1 up, 0.5 partial, 0 down, -1 unknown.",
        "tether_rebalances_total": "Forwarded devices whose VM was migrated to them because of what they were seen to use.",
        "tether_hosts": "Registered hosts, by whether the controller judges them up or down.",
    ]

    static func decided(_ action: AttachDecision.Action, dryRun: Bool, in duration: Duration) {
        Counter(label: "tether_attach_decisions_total", dimensions: [("action", action.rawValue), ("dry_run", "\(dryRun)")]).increment()
        Timer(label: "tether_attach_decision_seconds").recordNanoseconds(duration.nanoseconds)
    }

    static func finished(_ operation: OperationRecord) {
        Counter(label: "tether_operations_total", dimensions: [("kind", operation.kind.rawValue), ("state", operation.state.rawValue)])
            .increment()
        // A failover that completed: from the fault (its last good measure) to the VM running
        // again, per fault kind.
        if operation.state == .completed, let order = operation.failover, let faultAt = order.faultAt {
            Timer(label: "tether_recovery_seconds", dimensions: [("kind", order.fault.rawValue)])
                .recordNanoseconds(Int64(max(0, operation.updated.timeIntervalSince(faultAt)) * 1e9))
        }
    }

    static func stepTook(_ step: OperationStep, _ duration: Duration) {
        Timer(label: "tether_step_seconds", dimensions: [("step", step.rawValue)]).recordNanoseconds(duration.nanoseconds)
    }

    /// From a fault (the last good measure) to the controller knowing of it.
    static func detected(_ kind: String, after seconds: TimeInterval) {
        Timer(label: "tether_detection_seconds", dimensions: [("kind", kind)]).recordNanoseconds(Int64(seconds * 1e9))
    }

    /// A network's or path's state as a number: 1 up, 0.5 partial, 0 down, -1 unknown.
    static func state(of what: String, host: String, name: String, _ state: HealthState) {
        Gauge(label: "tether_\(what)_state", dimensions: [("host", host), (what, name)]).record(state.gaugeValue)
    }

    /// A forwarded device's VM migrated to it because of what the device was seen to use.
    static func rebalanced() { Counter(label: "tether_rebalances_total").increment() }

    static func hosts(up: Int, down: Int) {
        Gauge(label: "tether_hosts", dimensions: [("state", "up")]).record(up)
        Gauge(label: "tether_hosts", dimensions: [("state", "down")]).record(down)
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
