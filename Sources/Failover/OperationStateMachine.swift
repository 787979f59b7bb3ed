import Foundation
import TetherModel

/// One operation's progress, as a pure state machine in the style of SwiftNIO's: each event
/// (a journal write became durable, a step succeeded or failed, a wait ended) goes in, and the
/// one action to perform next comes out (journal a step record, call an agent, wait, undo a
/// step, finish). Time comes in with the events; nothing here reads a clock or does I/O, so tests
/// drive it synchronously and a fault can be placed between any two actions.
///
/// The rules it keeps:
/// - a step is journaled as started before its call, and as done (with what later steps need) or
///   failed after it;
/// - a failure that may pass is retried, with a growing wait, until the step's deadline; any other
///   failure is journaled and the operation is undone, each undo step journaled too;
/// - a machine made from a journal that shows a failed step goes on undoing (after the undo steps
///   already done); otherwise it starts from the first step again, since every agent action is
///   idempotent and the migration steps look at where the VM actually is before acting.
public struct OperationStateMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// Write this step record to the journal; then `journaled`.
        case journal(StepRecord)
        /// Perform the step (an agent call); then `stepSucceeded` or `stepFailed`.
        case call(OperationStep)
        /// Wait, then `waited`: the step failed in a way that may pass.
        case wait(Duration)
        /// Perform the undo step; then `undoSucceeded` or `undoFailed`.
        case undo(OperationStep)
        /// End the operation in the journal, in this state; then `finished`.
        case finish(OperationRecord.State, error: String?)
        /// Nothing more: the operation has finished (or an event came that fits no state).
        case none
    }

    public struct Timing: Sendable, Equatable {
        /// How long a step keeps retrying failures that may pass before it is undone.
        public var stepDeadline: TimeInterval
        public var firstWait: Duration
        public var longestWait: Duration

        public init(stepDeadline: TimeInterval = 60, firstWait: Duration = .milliseconds(100), longestWait: Duration = .seconds(2)) {
            self.stepDeadline = stepDeadline
            self.firstWait = firstWait
            self.longestWait = longestWait
        }
    }

    private enum State: Sendable, Equatable {
        case idle
        /// Journaling that step `index` started.
        case starting(Int)
        case calling(Int, deadline: Date, wait: Duration)
        case waiting(Int, deadline: Date, wait: Duration)
        /// Journaling that step `index` is done.
        case ending(Int)
        /// Journaling that step `index` failed for good.
        case failing(Int, cause: String)
        case startingUndo(Int)
        case undoing(Int)
        case endingUndo(Int)
        case finishing
        case finished
    }

    public let plan: [OperationStep]
    public let undoPlan: [OperationStep]
    let timing: Timing
    private var state: State = .idle
    /// Where the operation is: the next forward step, or (once undoing) the next undo step.
    private var next = 0
    private var undoing: (cause: String, failure: String?)?
    /// A failover's step after which the VM's state is on its target (`evacuate`): a step that
    /// fails later is not undone, there is nothing to take back (the VM is there, paused or
    /// running); the operation ends `failed`, with why, for an operator.
    private let irreversibleAfter: Int?
    private var endsWithoutUndo = false

    /// The machine for `operation`, at the point its journal shows.
    public init(_ operation: OperationRecord, timing: Timing = Timing()) {
        plan = OperationStep.plan(for: operation.payload)
        undoPlan = OperationStep.undo(for: operation.payload)
        self.timing = timing
        irreversibleAfter = operation.kind == .failover ? plan.firstIndex(of: .evacuate) : nil
        guard let failed = operation.steps.first(where: { $0.phase == .failed && !$0.step.hasPrefix("undo:") }) else { return }
        endsWithoutUndo = isIrreversible(plan.firstIndex { $0.rawValue == failed.step })
        let undoSteps = operation.steps.filter { $0.step.hasPrefix("undo:") }
        let ended = undoSteps.filter { $0.phase != .started }
        undoing = (failed.detail ?? "\(failed.step) failed", ended.first { $0.phase == .failed }?.detail)
        next = ended.count
    }

    /// Whether the operation is being undone.
    public var isUndoing: Bool { undoing != nil }

    // MARK: events

    /// The operation begins (new) or resumes (after a restart).
    public mutating func start(at now: Date) -> Action {
        guard state == .idle else { return .none }
        return advance(at: now)
    }

    /// The last `journal` action's record is durable.
    public mutating func journaled(at now: Date) -> Action {
        switch state {
        case .starting(let index):
            state = .calling(index, deadline: now.addingTimeInterval(timing.stepDeadline), wait: timing.firstWait)
            return .call(plan[index])
        case .ending(let index):
            next = index + 1
            return advance(at: now)
        case .failing(let index, let cause):
            undoing = (cause, nil)
            endsWithoutUndo = isIrreversible(index)
            next = 0
            return advance(at: now)
        case .startingUndo(let index):
            state = .undoing(index)
            return .undo(undoPlan[index])
        case .endingUndo(let index):
            next = index + 1
            return advance(at: now)
        default:
            return .none
        }
    }

    public mutating func stepSucceeded(detail: String?, output: StepOutput?, at now: Date) -> Action {
        guard case .calling(let index, _, _) = state else { return .none }
        state = .ending(index)
        return .journal(StepRecord(step: plan[index].rawValue, phase: .done, detail: detail, output: output, at: now))
    }

    public mutating func stepFailed(_ error: TetherError, at now: Date) -> Action {
        guard case .calling(let index, let deadline, let wait) = state else { return .none }
        if RetryPolicy.isTransient(error) && now < deadline {
            state = .waiting(index, deadline: deadline, wait: min(wait * 2, timing.longestWait))
            return .wait(wait)
        }
        state = .failing(index, cause: error.description)
        return .journal(StepRecord(step: plan[index].rawValue, phase: .failed, detail: error.description, at: now))
    }

    public mutating func waited() -> Action {
        guard case .waiting(let index, let deadline, let wait) = state else { return .none }
        state = .calling(index, deadline: deadline, wait: wait)
        return .call(plan[index])
    }

    public mutating func undoSucceeded(at now: Date) -> Action {
        guard case .undoing(let index) = state else { return .none }
        state = .endingUndo(index)
        return .journal(StepRecord(step: undoPlan[index].undoName, phase: .done, at: now))
    }

    /// An undo step that fails is not retried: the operation ends `failed`, for an operator.
    public mutating func undoFailed(_ error: TetherError, at now: Date) -> Action {
        guard case .undoing(let index) = state else { return .none }
        state = .endingUndo(index)
        if undoing?.failure == nil { undoing?.failure = error.description }
        return .journal(StepRecord(step: undoPlan[index].undoName, phase: .failed, detail: error.description, at: now))
    }

    /// The `finish` action is done.
    public mutating func finished() -> Action {
        state = .finished
        return .none
    }

    // MARK: moving on

    private func isIrreversible(_ failed: Int?) -> Bool {
        guard let failed, let irreversibleAfter else { return false }
        return failed > irreversibleAfter
    }

    private mutating func advance(at now: Date) -> Action {
        if let undoing, endsWithoutUndo {
            state = .finishing
            return .finish(.failed, error: undoing.cause + "; not undone: the VM's state had already reached its target, where it stays")
        }
        if let undoing {
            guard next < undoPlan.count else {
                state = .finishing
                let error = undoing.cause + (undoing.failure.map { "; undoing it failed too: \($0)" } ?? "")
                return .finish(undoing.failure == nil ? .rolledBack : .failed, error: error)
            }
            state = .startingUndo(next)
            return .journal(StepRecord(step: undoPlan[next].undoName, phase: .started, at: now))
        }
        guard next < plan.count else {
            state = .finishing
            return .finish(.completed, error: nil)
        }
        state = .starting(next)
        return .journal(StepRecord(step: plan[next].rawValue, phase: .started, at: now))
    }
}
