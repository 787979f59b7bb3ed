import Failover
import Foundation
import ServiceLifecycle
import TetherModel

/// Runs the controller's operations: a Service that owns one task per operation in a task group,
/// so that shutdown cancels them and waits for them. A cancelled operation is parked: it stays
/// `running` in the journal, where a restarted controller picks it up.
public struct OperationRunner: Service {
    let controller: Controller

    public init(_ controller: Controller) { self.controller = controller }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await controller.runOperations()
        }
    }
}

/// The thin shell around `OperationStateMachine`: it performs each action the machine returns
/// (journal writes, agent calls, waits, undo, finish) and feeds back what happened.
extension Controller {
    /// Hands an operation to the runner.
    func launch(_ operation: OperationRecord) {
        // From now until `drive` ends: a gap here would let a device be given back into a
        // detach or a move that has begun.
        operating[operation.vm, default: 0] += 1
        launchedOn[operation.id, default: []].append(operation.vm)
        launches.yield(operation.id)
    }

    /// Drives every unfinished operation in the journal: what a restarted controller does first.
    public func recover() async throws(TetherError) -> [String] {
        let unfinished = try await store.unfinishedOperations()
        for operation in unfinished {
            restartResumed(operation)
            launch(operation)
        }
        return unfinished.map(\.id)
    }

    /// Runs operations as they are launched, each in a child task, until cancelled.
    func runOperations() async {
        let launched = launched
        await withDiscardingTaskGroup { group in
            for await id in launched {
                group.addTask { await self.drive(id) }
            }
        }
    }

    /// Performs the machine's actions for one operation until it has finished, or until the
    /// task is cancelled (shutdown).
    func drive(_ id: String) async {
        defer {
            if let vm = launchedOn[id]?.popLast() { operating[vm] = operating[vm].flatMap { $0 > 1 ? $0 - 1 : nil } }
            if launchedOn[id]?.isEmpty == true { launchedOn[id] = nil }
        }
        guard let record = try? await store.operation(id), record.state == .running else { return }
        await OperationDriver.drive(record, timing: settings.timing, by: ControllerSteps(controller: self))
    }

    /// Writes a step record, tells the event log and the test hooks.
    func journal(_ step: StepRecord, in record: OperationRecord) async -> OperationRecord? {
        guard let updated = try? await store.record(step, in: record.id) else { return nil }
        operationWaiters.wakeAll()
        settings.journaled(updated, step)
        events.append(ClusterEvent(at: step.at, kind: .operation, host: nil, subject: updated.id, from: updated.kind.rawValue,
                                   to: "\(step.step) \(step.phase.rawValue)", detail: step.detail.map { [$0] } ?? []))
        return updated
    }

    /// A completed operation's changes reach memory before the store is asked: the store's
    /// write suspends this actor, and a request served meanwhile must not see the operation
    /// finished without its attachment (status reads the journal first, then memory). Should the
    /// write fail, memory is read back from the store.
    func finish(_ operation: OperationRecord, as state: OperationRecord.State, error: String?) async {
        progress[operation.id] = nil
        restartFinished(operation, completed: state == .completed)
        if state == .completed {
            var completed = operation
            completed.state = .completed
            completed.attachmentChanges(given: attachments.values).apply(to: &attachments)
            applyToModel(completed)
        }
        // Whoever follows the operation learns its end, written or not (then it reads the
        // journal's word, and asks again).
        defer { operationWaiters.wakeAll() }
        do {
            ControllerMetrics.finished(try await store.finish(operation.id, as: state, error: error, at: now()))
        } catch {
            guard state == .completed else { return }
            if let stored = try? await store.attachments() { attachments = Dictionary(stored.map { ($0.id, $0) }) { $1 } }
            model = nil
        }
    }

    // MARK: the steps

    /// One step's agent calls; answers what to journal: a line for people, and what later
    /// steps need.
    func perform(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) -> (detail: String?, output: StepOutput?) {
        let started = ContinuousClock.now
        defer { ControllerMetrics.stepTook(step, ContinuousClock.now - started) }
        switch step {
        case .prepareIncoming:
            let moving = try migrationSteps(operation)
            return try await moving.prepareIncoming(via: operation.failover?.via == .management ? .management : nil) { here throws(TetherError) in
                try await self.letDevicesFollow(here, to: moving.target.host)
            }

        case .migrate, .evacuate:
            let id = operation.id
            return try await migrationSteps(operation).send(operation.output(of: OperationStep.prepareIncoming.rawValue), evacuate: step == .evacuate,
                                                            leaveStorage: operation.failover?.leavesStorage ?? false,
                                                            maxBandwidth: managementCap(operation)) { report in
                await self.setProgress(id, report)
            }

        case .resume:
            return (try await migrationSteps(operation).resume(), nil)

        case .releaseSource:
            return (try await migrationSteps(operation).releaseSource(), nil)

        case .collectCrash:
            let order = try crashOrder(operation)
            return (try await agent(for: order.from).collectCrash(vm: operation.vm).summary, nil)

        case .restart:
            let order = try restartOrder(operation)
            if order.target == order.from {
                let state = try await agent(for: order.target).restart(vm: operation.vm)
                return ("\(operation.vm) \(state.operatorWord) again on \(order.target)", nil)
            }
            guard let vm = order.registeredVM else {
                throw TetherError(.invalidArgument, "the journal of \(operation.id) lacks \(operation.vm)'s launch figures: it cannot be started on \(order.target)")
            }
            let state = try await agent(for: order.target).startFromDisk(vm)
            guard state.occupiesHost else {
                throw TetherError(.io, "\(order.target) was asked to start \(operation.vm) from its disk and has it \(state.operatorWord)")
            }
            return ("\(operation.vm) started from its disk on \(order.target): \(state.operatorWord)", nil)

        case .export:
            let attachment = try attachmentOf(operation)
            let local = attachment.vmHost == attachment.device.host
            let address = try await agent(for: attachment.device.host).export(
                ExportRequest(session: attachment.id, device: attachment.device.id, local: local, allow: [attachment.vmHost]))
            return ("exported at \(address)" + (local ? "" : " behind TLS, for \(attachment.vmHost)"), .exported(address))

        case .channel:
            let attachment = try attachmentOf(operation)
            guard case .exported(let address) = operation.output(of: OperationStep.export.rawValue) else {
                throw TetherError(.internalError, "the journal of \(operation.id) has no export address for \(attachment.id)")
            }
            let local = attachment.vmHost == attachment.device.host
            try await agent(for: attachment.vmHost).openChannel(
                ChannelRequest(session: attachment.id, vm: operation.vm, from: address, deviceHost: attachment.device.host, local: local))
            return ("\(operation.vm) on \(attachment.vmHost) has the device", nil)

        case .followDevices:
            let order = try restartOrder(operation)
            return await followDevices(of: operation.vm, restartedOn: order.target, from: order.from)

        case .closeChannel, .stopExport, .abandonIncoming:
            try await undo(step, operation)
            return (nil, nil)
        }
    }

    /// Steps that take something away; each is a no-op where there is nothing to take.
    func undo(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) {
        switch step {
        case .closeChannel:
            let attachment = try attachmentOf(operation)
            try await agent(for: attachment.vmHost).closeChannel(session: attachment.id, vm: attachment.vm)
        case .stopExport:
            let attachment = try attachmentOf(operation)
            try await agent(for: attachment.device.host).stopExport(session: attachment.id)
        case .abandonIncoming:
            guard operation.migrationTarget != nil else { return }
            try await migrationSteps(operation).abandonIncoming()
        case .prepareIncoming, .migrate, .releaseSource, .export, .channel, .evacuate, .resume, .collectCrash, .restart, .followDevices:
            throw TetherError(.internalError, "\(step.rawValue) has no undo of its own")
        }
    }

    private func migrationSteps(_ operation: OperationRecord) throws(TetherError) -> MigrationSteps {
        guard let target = operation.migrationTarget, let source = operation.migrationSource else {
            throw TetherError(.internalError, "\(operation.id) is not a migration")
        }
        return MigrationSteps(vm: operation.vm, source: try agent(for: source), target: try agent(for: target))
    }

    /// The devices forwarded to a VM that moves follow it: their relays accept its new host.
    func letDevicesFollow(_ vm: AgentVMState, to host: String) async throws(TetherError) {
        for end in vm.channels {
            guard let forwarded = attachments[end.session] else { continue }
            _ = try await agent(for: end.deviceHost).export(ExportRequest(session: end.session, device: forwarded.device.id,
                                                                          local: false, allow: [host]))
        }
    }

    /// A failover over the management network takes at most its configured share of the
    /// slower end's management link; any other move is not capped here.
    func managementCap(_ operation: OperationRecord) -> Int? {
        guard let order = operation.failover, order.via == .management else { return nil }
        let mbps = [order.from, order.target].compactMap { registrations[$0]?.networks[.management]?.mbps }.min() ?? 1000
        return max(1, mbps * 1_000_000 / 8 * settings.managementMigrationPercent / 100)
    }

    func setProgress(_ operation: String, _ report: MigrationReport) {
        progress[operation] = report
    }

    private func crashOrder(_ operation: OperationRecord) throws(TetherError) -> FailoverOrder {
        guard let order = operation.failover, order.fault == .crash else { throw TetherError(.internalError, "\(operation.id) is not a crash's") }
        return order
    }

    private func restartOrder(_ operation: OperationRecord) throws(TetherError) -> FailoverOrder {
        guard let order = operation.failover, order.mode == .restart else { throw TetherError(.internalError, "\(operation.id) is not a restart") }
        return order
    }

    private func attachmentOf(_ operation: OperationRecord) throws(TetherError) -> DeviceAttachment {
        guard let attachment = operation.attachment else { throw TetherError(.internalError, "\(operation.id) concerns no device") }
        return attachment
    }
}

/// The controller as `OperationDriver` sees it.
struct ControllerSteps: OperationPerformer {
    let controller: Controller

    func now() -> Date { controller.now() }
    func journal(_ step: StepRecord, in operation: OperationRecord) async -> OperationRecord? { await controller.journal(step, in: operation) }
    func perform(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) -> (detail: String?, output: StepOutput?) {
        try await controller.perform(step, operation)
    }
    func undo(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) { try await controller.undo(step, operation) }
    func finish(_ operation: OperationRecord, as state: OperationRecord.State, error: String?) async {
        await controller.finish(operation, as: state, error: error)
    }
}
