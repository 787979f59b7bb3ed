import Failover
import Foundation
import Metrics
import TetherModel

/// What the controller counts and times, through swift-metrics (Prometheus in tetherd, nothing
/// where no backend is bootstrapped).
enum ControllerMetrics {
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
        let value: Double = switch state {
        case .up: 1
        case .partial: 0.5
        case .down: 0
        case .unknown: -1
        }
        Gauge(label: "tether_\(what)_state", dimensions: [("host", host), (what, name)]).record(value)
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
