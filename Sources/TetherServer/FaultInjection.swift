import Foundation
import TetherModel

/// For crash tests: `TETHER_FAULT_KILL_AT=STEP:PHASE` (e.g. `migrate:started`, `undo:stop-export:done`) makes the
/// controller, or an agent moving its own VMs (its own journal), kill itself with SIGKILL right
/// after journaling that step of the first operation to reach it: no cleanup, no flush beyond
/// what the journal already made durable. Off unless set.
enum FaultInjection {
    static func journalHook(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> @Sendable (OperationRecord, StepRecord) -> Void {
        guard let spec = environment["TETHER_FAULT_KILL_AT"], !spec.isEmpty else { return { _, _ in } }
        // The phase follows the last colon: undo steps are named `undo:STEP`.
        let target = spec.split(separator: ":", omittingEmptySubsequences: false).dropLast().joined(separator: ":")
        let phase = spec.split(separator: ":").last.map(String.init) ?? ""
        return { _, step in
            if step.step == target, step.phase.rawValue == phase {
                FileHandle.standardError.write(Data("tetherd: TETHER_FAULT_KILL_AT=\(spec): killing myself\n".utf8))
                kill(getpid(), SIGKILL)
            }
        }
    }
}
