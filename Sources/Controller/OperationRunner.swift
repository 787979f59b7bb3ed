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
        launches.yield(operation.id)
    }

    /// Drives every unfinished operation in the journal: what a restarted controller does first.
    public func recover() async throws(TetherError) -> [String] {
        let unfinished = try await store.unfinishedOperations()
        for operation in unfinished { launch(operation) }
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
    /// task is cancelled (shutdown): then it stops between two actions, and the journal holds
    /// everything a successor needs.
    func drive(_ id: String) async {
        guard var record = try? await store.operation(id), record.state == .running else { return }
        var machine = OperationStateMachine(record, timing: settings.timing)
        var action = machine.start(at: now())
        while !Task.isCancelled {
            switch action {
            case .none:
                return
            case .journal(let step):
                guard let updated = try? await store.record(step, in: id) else {
                    // The journal cannot be written: acting on would break "journaled before done".
                    // The operation stays running there; a restarted controller drives it on.
                    return
                }
                record = updated
                settings.journaled(record, step)
                events.append(ClusterEvent(at: step.at, kind: .operation, host: nil, subject: record.id, from: record.kind.rawValue,
                                           to: "\(step.step) \(step.phase.rawValue)", detail: step.detail.map { [$0] } ?? []))
                action = machine.journaled(at: now())
            case .call(let step):
                let started = ContinuousClock.now
                do {
                    let (detail, output) = try await perform(step, record)
                    ControllerMetrics.stepTook(step, ContinuousClock.now - started)
                    guard !Task.isCancelled else { return }
                    action = machine.stepSucceeded(detail: detail, output: output, at: now())
                } catch {
                    guard !Task.isCancelled else { return }
                    action = machine.stepFailed(error, at: now())
                }
            case .wait(let duration):
                try? await Task.sleep(for: duration)
                action = machine.waited()
            case .undo(let step):
                do {
                    try await undo(step, record)
                    guard !Task.isCancelled else { return }
                    action = machine.undoSucceeded(at: now())
                } catch {
                    guard !Task.isCancelled else { return }
                    action = machine.undoFailed(error, at: now())
                }
            case .finish(let state, let error):
                await finish(record, as: state, error: error)
                action = machine.finished()
            }
        }
    }

    /// A completed operation's changes reach memory before the store is asked: the store's
    /// write suspends this actor, and a request served meanwhile must not see the operation
    /// finished without its attachment (status reads the journal first, then memory). Should the
    /// write fail, memory is read back from the store.
    private func finish(_ operation: OperationRecord, as state: OperationRecord.State, error: String?) async {
        progress[operation.id] = nil
        if state == .completed {
            var completed = operation
            completed.state = .completed
            completed.attachmentChanges(given: attachments.values).apply(to: &attachments)
            applyToModel(completed)
        }
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
    private func perform(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) -> (String?, StepOutput?) {
        let vm = operation.vm
        switch step {
        case .prepareIncoming:
            let (source, target) = try migrationEnds(operation)
            if let there = try await target.vm(vm), there.status != .inmigrate {
                return ("\(vm) already runs on \(target.host) (\(there.status))", .alreadyMoved)
            }
            guard let here = try await source.vm(vm) else { throw TetherError(.notFound, "\(source.host) no longer runs \(vm)") }
            guard let launch = here.launch else {
                throw TetherError(.unsupported, "\(source.host) adopted \(vm) and does not know how it was started; it cannot be migrated")
            }
            // The devices forwarded to the VM follow it: their relays accept its new host.
            for end in here.channels {
                guard let forwarded = attachments[end.session] else { continue }
                _ = try await agent(for: end.deviceHost).export(ExportRequest(session: end.session, device: forwarded.device.id,
                                                                              local: false, allow: [target.host]))
            }
            if here.status == .postmigrate {
                throw TetherError(.internalError, "\(vm)'s state already left \(source.host), but \(target.host) does not run it")
            }
            let address = try await target.prepareIncoming(IncomingRequest(launch: launch, source: source.host, registration: here.registration,
                                                                           channels: here.channels))
            let following = here.channels.isEmpty ? "" : ", with \(here.channels.map(\.session).joined(separator: ", ")) following it"
            return ("\(target.host) waits for \(vm) at \(address)" + following, .incoming(address))

        case .migrate, .evacuate:
            switch operation.output(of: OperationStep.prepareIncoming.rawValue) {
            case .alreadyMoved:
                return ("nothing to do", nil)
            case .incoming(let address):
                let (source, target) = try migrationEnds(operation)
                // An attach migrates a running VM; a failover may first take its disk off a
                // datastore the source no longer reaches.
                let leavesStorage = operation.failover?.leavesStorage ?? false
                let report = try await follow(vm, from: source, to: target, operation: operation.id) { () throws(TetherError) in
                    if step == .evacuate {
                        try await source.evacuate(EvacuateRequest(vm: vm, to: address, target: target.host, leaveStorage: leavesStorage))
                    } else {
                        try await source.startMigration(vm: vm, to: address, target: target.host)
                    }
                }
                let how = leavesStorage ? "took its disk off the datastore, sent its state" : "migrated"
                return ("\(how) to \(target.host)" + (report.downtimeMs.map { ", downtime \($0) ms" } ?? ""), .migrated(report))
            default:
                throw TetherError(.internalError, "the journal of \(operation.id) has no incoming address for \(vm)")
            }

        case .resume:
            let (_, target) = try migrationEnds(operation)
            let state = try await target.resume(vm: vm)
            return ("\(vm) \(state.operatorWord) on \(target.host)", nil)

        case .releaseSource:
            let (source, target) = try migrationEnds(operation)
            guard let state = try await source.vm(vm) else { return ("\(source.host) has no copy of \(vm) left", nil) }
            guard state.status == .postmigrate else {
                throw TetherError(.internalError, "\(vm) is \(state.status) on \(source.host) after its migration; it must not run twice")
            }
            try await source.release(vm: vm, movedTo: target.host)
            return ("quit the stopped copy on \(source.host)", nil)

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
                ChannelRequest(session: attachment.id, vm: vm, from: address, deviceHost: attachment.device.host, local: local))
            return ("\(vm) on \(attachment.vmHost) has the device", nil)

        case .closeChannel, .stopExport, .abandonIncoming:
            try await undo(step, operation)
            return (nil, nil)
        }
    }

    /// Steps that take something away; each is a no-op where there is nothing to take.
    private func undo(_ step: OperationStep, _ operation: OperationRecord) async throws(TetherError) {
        switch step {
        case .closeChannel:
            let attachment = try attachmentOf(operation)
            try await agent(for: attachment.vmHost).closeChannel(session: attachment.id, vm: attachment.vm)
        case .stopExport:
            let attachment = try attachmentOf(operation)
            try await agent(for: attachment.device.host).stopExport(session: attachment.id)
        case .abandonIncoming:
            // A target still waiting for the VM is quit; one that runs it keeps it.
            guard let target = operation.migrationTarget else { return }
            let agent = try agent(for: target)
            if let state = try await agent.vm(operation.vm), state.status == .inmigrate {
                try await agent.abandonIncoming(vm: operation.vm)
            }
        case .prepareIncoming, .migrate, .releaseSource, .export, .channel, .evacuate, .resume:
            throw TetherError(.internalError, "\(step.rawValue) has no undo of its own")
        }
    }

    private func migrationEnds(_ operation: OperationRecord) throws(TetherError) -> (source: any HostAgent, target: any HostAgent) {
        guard let target = operation.migrationTarget, let source = operation.migrationSource else {
            throw TetherError(.internalError, "\(operation.id) is not a migration")
        }
        return (try agent(for: source), try agent(for: target))
    }

    private func attachmentOf(_ operation: OperationRecord) throws(TetherError) -> DeviceAttachment {
        guard let attachment = operation.attachment else { throw TetherError(.internalError, "\(operation.id) concerns no device") }
        return attachment
    }

    /// Starts the VM's move with `start` unless one already runs or ended (a restarted controller
    /// finds it under way, or done), then follows the source's reports to the end.
    private func follow(_ vm: String, from source: any HostAgent, to target: any HostAgent, operation: String,
                        start: () async throws(TetherError) -> Void) async throws(TetherError) -> MigrationReport {
        let state = try await source.vm(vm)
        let under = state?.migration.map { !$0.status.isFinished } ?? false
        if !under && state?.status != .postmigrate {
            try await start()
        }
        while true {
            guard let state = try await source.vm(vm) else { throw TetherError(.io, "\(source.host) lost \(vm) during its migration") }
            if let report = state.migration {
                progress[operation] = report
                if report.status == .completed { return report }
                if report.status.isFailure {
                    throw TetherError(.unsupported, "migration of \(vm) to \(target.host) \(report.status): \(report.error ?? "no reason given")")
                }
            } else if state.status == .postmigrate {
                return MigrationReport(status: .completed, transferredBytes: 0, totalBytes: 0)
            }
            try? await Task.sleep(for: .milliseconds(100))
            if Task.isCancelled { throw TetherError(.interrupted, "the controller is shutting down") }
        }
    }
}
