import Foundation
import TetherModel

/// What drives an operation needs of whoever runs it: the controller with its journal and its
/// agents, or a host's agent with its own journal and its peers (management lost).
public protocol OperationPerformer: Sendable {
    func now() -> Date
    /// Writes the step record; nil when the journal cannot be written (the driver stops: acting
    /// on would break "journaled before done").
    func journal(_ step: StepRecord, in operation: OperationRecord) async -> OperationRecord?
    func perform(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) -> (detail: String?, output: StepOutput?)
    func undo(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError)
    func finish(_ operation: OperationRecord, as state: OperationRecord.State, error: String?) async
}

/// The thin shell around `OperationStateMachine`: it performs each action the machine returns
/// (journal writes, calls, waits, undo, finish) and feeds back what happened, until the
/// operation has finished or the task is cancelled (shutdown: it stops between two actions, and
/// the journal holds everything a successor needs).
public enum OperationDriver {
    public static func drive(_ operation: OperationRecord, timing: OperationStateMachine.Timing, by performer: some OperationPerformer) async {
        var record = operation
        var machine = OperationStateMachine(record, timing: timing)
        var action = machine.start(at: performer.now())
        while !Task.isCancelled {
            switch action {
            case .none:
                return
            case .journal(let step):
                guard let updated = await performer.journal(step, in: record) else { return }
                record = updated
                action = machine.journaled(at: performer.now())
            case .call(let step):
                do {
                    let (detail, output) = try await performer.perform(step, record)
                    guard !Task.isCancelled else { return }
                    action = machine.stepSucceeded(detail: detail, output: output, at: performer.now())
                } catch {
                    guard !Task.isCancelled else { return }
                    action = machine.stepFailed(error, at: performer.now())
                }
            case .wait(let duration):
                try? await Task.sleep(for: duration)
                action = machine.waited()
            case .undo(let step):
                do {
                    try await performer.undo(step, record)
                    guard !Task.isCancelled else { return }
                    action = machine.undoSucceeded(at: performer.now())
                } catch {
                    guard !Task.isCancelled else { return }
                    action = machine.undoFailed(error, at: performer.now())
                }
            case .finish(let state, let error):
                await performer.finish(record, as: state, error: error)
                action = machine.finished()
            }
        }
    }
}
