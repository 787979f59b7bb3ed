import Foundation
import TetherModel

/// For crash tests: `TETHER_FAULT_KILL_AT=STEP:PHASE` (e.g. `migrate:started`) makes the
/// controller kill itself with SIGKILL right after journaling that step of the first operation to
/// reach it: no cleanup, no flush beyond what the journal already made durable. Off unless set.
enum FaultInjection {
    static func journalHook(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> @Sendable (OperationRecord, StepRecord) -> Void {
        guard let spec = environment["TETHER_FAULT_KILL_AT"], !spec.isEmpty else { return { _, _ in } }
        let parts = spec.split(separator: ":").map(String.init)
        return { _, step in
            if parts.count == 2, step.step == parts[0], step.phase.rawValue == parts[1] {
                FileHandle.standardError.write(Data("tetherd: TETHER_FAULT_KILL_AT=\(spec): killing myself\n".utf8))
                kill(getpid(), SIGKILL)
            }
        }
    }
}
