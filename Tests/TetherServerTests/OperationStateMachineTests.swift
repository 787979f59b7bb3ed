import Failover
import Foundation
import Testing
import TetherModel
@testable import Controller

/// The operation state machine on its own: events in, actions out, time as a value. No store,
/// no agents, no waiting: each test walks an operation through exactly the actions a runner
/// would perform.
struct OperationStateMachineTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let attachment = DeviceAttachment(container: "c1", vm: "vm-a", device: DeviceRef(host: "host-b", id: "1-4"), mode: .forward,
                                             vmHost: "host-a", since: t0)

    static func decision(_ action: AttachDecision.Action) -> AttachDecision {
        AttachDecision(action: action, container: "c1", vm: "vm-a", vmHost: "host-a", device: "host-b/1-4",
                       targetHost: action == .migrate ? "host-b" : nil, requiredBitsPerSecond: 1, allocatedBitsPerSecond: 100,
                       migrateThresholdPercent: 50, reasons: ["test"], forwardedAfterMove: nil)
    }

    static func operation(_ action: AttachDecision.Action = .forward, steps: [StepRecord] = []) -> OperationRecord {
        var record = OperationRecord(id: "op-1", payload: .attach(attachment, decision: decision(action)), created: t0)
        record.steps = steps
        return record
    }

    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    @Test func aForwardAttachJournalsEachStepBeforeAndAfterItsCall() {
        var machine = OperationStateMachine(Self.operation())
        let exported = StepOutput.exported(HostPort(host: "10.0.0.2", port: 4000))
        #expect(machine.start(at: Self.at(0)) == .journal(StepRecord(step: "export", phase: .started, at: Self.at(0))))
        #expect(machine.journaled(at: Self.at(0)) == .call(.export))
        #expect(machine.stepSucceeded(detail: "exported", output: exported, at: Self.at(1))
                == .journal(StepRecord(step: "export", phase: .done, detail: "exported", output: exported, at: Self.at(1))))
        #expect(machine.journaled(at: Self.at(1)) == .journal(StepRecord(step: "channel", phase: .started, at: Self.at(1))))
        #expect(machine.journaled(at: Self.at(1)) == .call(.channel))
        #expect(machine.stepSucceeded(detail: nil, output: nil, at: Self.at(2)) == .journal(StepRecord(step: "channel", phase: .done, at: Self.at(2))))
        #expect(machine.journaled(at: Self.at(2)) == .finish(.completed, error: nil))
        #expect(machine.finished() == .none)
    }

    @Test func aMigrationWalksItsFiveStepsAndIsUndoneWithItsWaitingTarget() {
        let machine = OperationStateMachine(Self.operation(.migrate))
        #expect(machine.plan == [.prepareIncoming, .migrate, .releaseSource, .export, .channel])
        #expect(machine.undoPlan == [.abandonIncoming, .closeChannel, .stopExport])
        var detach = OperationRecord(id: "op-2", payload: .detach(Self.attachment, reason: "asked"), created: Self.t0)
        detach.steps = []
        #expect(OperationStateMachine(detach).plan == [.closeChannel, .stopExport])
        #expect(OperationStateMachine(detach).undoPlan.isEmpty)
    }

    @Test func aFailureThatMayPassIsRetriedWithGrowingWaitsUntilTheDeadlineThenUndone() {
        var machine = OperationStateMachine(Self.operation(), timing: .init(stepDeadline: 10, firstWait: .milliseconds(100),
                                                                             longestWait: .milliseconds(400)))
        _ = machine.start(at: Self.at(0))
        #expect(machine.journaled(at: Self.at(0)) == .call(.export))
        var waits: [Duration] = []
        var now = 0.0
        while true {
            now += 2
            let action = machine.stepFailed(TetherError(.io, "connection refused"), at: Self.at(now))
            guard case .wait(let duration) = action else {
                #expect(action == .journal(StepRecord(step: "export", phase: .failed, detail: "connection refused", at: Self.at(now))))
                break
            }
            waits.append(duration)
            #expect(machine.waited() == .call(.export), "the same step is called again, not journaled again")
        }
        #expect(waits == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(400)], "until 10 s had passed")
        #expect(machine.journaled(at: Self.at(now)) == .journal(StepRecord(step: "undo:close-channel", phase: .started, at: Self.at(now))))
        #expect(machine.journaled(at: Self.at(now)) == .undo(.closeChannel))
        #expect(machine.undoSucceeded(at: Self.at(now)) == .journal(StepRecord(step: "undo:close-channel", phase: .done, at: Self.at(now))))
        #expect(machine.journaled(at: Self.at(now)) == .journal(StepRecord(step: "undo:stop-export", phase: .started, at: Self.at(now))))
        #expect(machine.journaled(at: Self.at(now)) == .undo(.stopExport))
        #expect(machine.undoSucceeded(at: Self.at(now)) == .journal(StepRecord(step: "undo:stop-export", phase: .done, at: Self.at(now))))
        #expect(machine.journaled(at: Self.at(now)) == .finish(.rolledBack, error: "connection refused"))
    }

    @Test func aFailureForGoodIsUndoneAtOnceAndAFailedUndoLeavesItForAnOperator() {
        var machine = OperationStateMachine(Self.operation())
        _ = machine.start(at: Self.at(0))
        _ = machine.journaled(at: Self.at(0))
        #expect(machine.stepFailed(TetherError(.notFound, "host-b has no device 1-4"), at: Self.at(1))
                == .journal(StepRecord(step: "export", phase: .failed, detail: "host-b has no device 1-4", at: Self.at(1))))
        _ = machine.journaled(at: Self.at(1))
        #expect(machine.journaled(at: Self.at(1)) == .undo(.closeChannel))
        _ = machine.undoFailed(TetherError(.io, "host-a unreachable"), at: Self.at(2))
        _ = machine.journaled(at: Self.at(2))
        #expect(machine.journaled(at: Self.at(2)) == .undo(.stopExport), "one failed undo step does not stop the others")
        _ = machine.undoSucceeded(at: Self.at(3))
        #expect(machine.journaled(at: Self.at(3))
                == .finish(.failed, error: "host-b has no device 1-4; undoing it failed too: host-a unreachable"))
    }

    @Test func aRestartedControllerRunsAForwardOperationFromItsFirstStepAgain() {
        let journal = [StepRecord(step: "export", phase: .started, at: Self.at(0)),
                       StepRecord(step: "export", phase: .done, output: .exported(HostPort(host: "10.0.0.2", port: 4000)), at: Self.at(1)),
                       StepRecord(step: "channel", phase: .started, at: Self.at(1))]
        var machine = OperationStateMachine(Self.operation(steps: journal))
        #expect(!machine.isUndoing)
        #expect(machine.start(at: Self.at(5)) == .journal(StepRecord(step: "export", phase: .started, at: Self.at(5))),
                "every agent action is idempotent; the steps look at the world before acting")
    }

    @Test func aRestartedControllerGoesOnUndoingWhereTheJournalShowsItWas() {
        let journal = [StepRecord(step: "export", phase: .started, at: Self.at(0)),
                       StepRecord(step: "export", phase: .failed, detail: "gone", at: Self.at(1)),
                       StepRecord(step: "undo:close-channel", phase: .started, at: Self.at(1)),
                       StepRecord(step: "undo:close-channel", phase: .failed, detail: "host-a unreachable", at: Self.at(2)),
                       StepRecord(step: "undo:stop-export", phase: .started, at: Self.at(2))]
        var machine = OperationStateMachine(Self.operation(steps: journal))
        #expect(machine.isUndoing)
        #expect(machine.start(at: Self.at(9)) == .journal(StepRecord(step: "undo:stop-export", phase: .started, at: Self.at(9))))
        #expect(machine.journaled(at: Self.at(9)) == .undo(.stopExport))
        _ = machine.undoSucceeded(at: Self.at(10))
        #expect(machine.journaled(at: Self.at(10)) == .finish(.failed, error: "gone; undoing it failed too: host-a unreachable"))
    }

    @Test func eventsThatFitNoStateChangeNothing() {
        var machine = OperationStateMachine(Self.operation())
        #expect(machine.journaled(at: Self.t0) == .none, "nothing was journaled yet")
        #expect(machine.stepSucceeded(detail: nil, output: nil, at: Self.t0) == .none)
        #expect(machine.waited() == .none)
        #expect(machine.undoSucceeded(at: Self.t0) == .none)
        #expect(machine.start(at: Self.t0) == .journal(StepRecord(step: "export", phase: .started, at: Self.t0)))
        #expect(machine.start(at: Self.t0) == .none, "starting twice does not start twice")
    }
}
