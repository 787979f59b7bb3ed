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
    }

    static func stepTook(_ step: OperationStep, _ duration: Duration) {
        Timer(label: "tether_step_seconds", dimensions: [("step", step.rawValue)]).recordNanoseconds(duration.nanoseconds)
    }

    static func hosts(up: Int, down: Int) {
        Gauge(label: "tether_hosts", dimensions: [("state", "up")]).record(up)
        Gauge(label: "tether_hosts", dimensions: [("state", "down")]).record(down)
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
