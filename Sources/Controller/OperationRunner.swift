import Foundation
import TetherModel

/// Drives journaled operations through the agents. Each step is recorded as started before it
/// runs and as done after; a failure that may pass (an agent that did not answer) is retried
/// until the step's deadline, any other is undone. A controller that restarts drives every
/// unfinished operation again from its first step: each agent action is idempotent, and the
/// migration steps look at where the VM actually is before they act, so nothing runs twice.
extension Controller {
    /// What the steps of one run hand on to the next.
    struct StepContext {
        var incoming: HostPort?
        var exported: HostPort?
        var alreadyMoved = false
    }

    func launch(_ operation: OperationRecord) {
        let id = operation.id
        Task { await self.drive(id) }
    }

    /// Drives every unfinished operation in the journal: what a restarted controller does first.
    public func recover() async throws(TetherError) -> [String] {
        let unfinished = try await store.unfinishedOperations()
        for operation in unfinished { launch(operation) }
        return unfinished.map(\.id)
    }

    private func drive(_ id: String) async {
        guard var operation = try? await store.operation(id), operation.state == .running else { return }
        var context = StepContext()
        do {
            for step in OperationStep.plan(for: operation) {
                operation = try await perform(step, operation, &context)
            }
            await complete(operation)
        } catch {
            await rollBack(operation, after: error)
        }
    }

    private func perform(_ step: OperationStep, _ operation: OperationRecord, _ context: inout StepContext) async throws(TetherError) -> OperationRecord {
        try await journal(operation.id, step, .started)
        let started = ContinuousClock.now
        defer { ControllerMetrics.stepTook(step, ContinuousClock.now - started) }
        let deadline = now().addingTimeInterval(settings.stepDeadline)
        var backoff: Duration = .milliseconds(100)
        while true {
            do {
                let detail = try await execute(step, operation, &context)
                return try await journal(operation.id, step, .done, detail)
            } catch where RetryPolicy.isTransient(error) && now() < deadline {
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            } catch {
                _ = try? await journal(operation.id, step, .failed, error.description)
                throw error
            }
        }
    }

    @discardableResult
    private func journal(_ id: String, _ step: OperationStep, _ phase: StepRecord.Phase, _ detail: String? = nil) async throws(TetherError) -> OperationRecord {
        let record = StepRecord(step: step.rawValue, phase: phase, detail: detail, at: now())
        let operation = try await store.record(record, in: id)
        settings.journaled(operation, record)
        return operation
    }

    private func complete(_ operation: OperationRecord) async {
        guard let finished = try? await store.finish(operation.id, as: .completed, error: nil, at: now()) else { return }
        ControllerMetrics.finished(finished)
        progress[operation.id] = nil
        finished.attachmentChanges(given: attachments.values).apply(to: &attachments)
        applyToModel(finished)
    }

    private func rollBack(_ operation: OperationRecord, after error: TetherError) async {
        var context = StepContext()
        var undoFailure: TetherError?
        if operation.kind == .attach, operation.decision.action == .migrate, let target = operation.decision.targetHost {
            // A target still waiting for the VM is quit; one that runs it keeps it.
            if let agent = try? agent(for: target), let state = try? await agent.vm(operation.attachment.vm), state.status == .inmigrate {
                do { try await agent.abandonIncoming(vm: operation.attachment.vm) } catch { undoFailure = error }
            }
        }
        for step in OperationStep.undo(for: operation) {
            do { _ = try await execute(step, operation, &context) } catch { undoFailure = undoFailure ?? error }
        }
        let message = error.description + (undoFailure.map { "; undoing it failed too: \($0)" } ?? "")
        if let finished = try? await store.finish(operation.id, as: undoFailure == nil ? .rolledBack : .failed, error: message, at: now()) {
            ControllerMetrics.finished(finished)
        }
        progress[operation.id] = nil
    }

    // MARK: the steps

    private func execute(_ step: OperationStep, _ operation: OperationRecord, _ context: inout StepContext) async throws(TetherError) -> String? {
        let attachment = operation.attachment
        let decision = operation.decision
        let vm = attachment.vm
        switch step {
        case .prepareIncoming:
            let (source, target) = try migrationEnds(decision)
            if let there = try await target.vm(vm), there.status != .inmigrate {
                context.alreadyMoved = true
                return "\(vm) already runs on \(target.host) (\(there.status))"
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
            let address = try await target.prepareIncoming(IncomingRequest(launch: launch, registration: here.registration,
                                                                           channels: here.channels))
            context.incoming = address
            let following = here.channels.isEmpty ? "" : ", with \(here.channels.map(\.session).joined(separator: ", ")) following it"
            return "\(target.host) waits for \(vm) at \(address)" + following

        case .migrate:
            if context.alreadyMoved { return "nothing to do" }
            let (source, target) = try migrationEnds(decision)
            guard let address = context.incoming else { throw TetherError(.internalError, "no incoming address for \(vm)") }
            let report = try await migrate(vm, from: source, to: target, at: address, operation: operation.id)
            return "migrated to \(target.host)" + (report.downtimeMs.map { ", downtime \($0) ms" } ?? "")

        case .releaseSource:
            let (source, target) = try migrationEnds(decision)
            guard let state = try await source.vm(vm) else { return "\(source.host) has no copy of \(vm) left" }
            guard state.status == .postmigrate else {
                throw TetherError(.internalError, "\(vm) is \(state.status) on \(source.host) after its migration; it must not run twice")
            }
            try await source.release(vm: vm, movedTo: target.host)
            return "quit the stopped copy on \(source.host)"

        case .export:
            let local = attachment.vmHost == attachment.device.host
            let address = try await agent(for: attachment.device.host).export(
                ExportRequest(session: attachment.id, device: attachment.device.id, local: local, allow: [attachment.vmHost]))
            context.exported = address
            return "exported at \(address)" + (local ? "" : " behind TLS, for \(attachment.vmHost)")

        case .channel:
            guard let address = context.exported else { throw TetherError(.internalError, "no export address for \(attachment.id)") }
            let local = attachment.vmHost == attachment.device.host
            try await agent(for: attachment.vmHost).openChannel(
                ChannelRequest(session: attachment.id, vm: vm, from: address, deviceHost: attachment.device.host, local: local))
            return "\(vm) on \(attachment.vmHost) has the device"

        case .closeChannel:
            try await agent(for: attachment.vmHost).closeChannel(session: attachment.id, vm: vm)
            return nil

        case .stopExport:
            try await agent(for: attachment.device.host).stopExport(session: attachment.id)
            return nil
        }
    }

    private func migrationEnds(_ decision: AttachDecision) throws(TetherError) -> (source: any HostAgent, target: any HostAgent) {
        guard let target = decision.targetHost else { throw TetherError(.internalError, "a migration without a target host") }
        return (try agent(for: decision.vmHost), try agent(for: target))
    }

    /// Starts the migration unless one already runs (a restarted controller finds it under way),
    /// then follows the source's reports to the end.
    private func migrate(_ vm: String, from source: any HostAgent, to target: any HostAgent, at address: HostPort,
                         operation: String) async throws(TetherError) -> MigrationReport {
        let state = try await source.vm(vm)
        let under = state?.migration.map { !$0.status.isFinished } ?? false
        if !under && state?.status != .postmigrate {
            try await source.startMigration(vm: vm, to: address)
        }
        while true {
            guard let state = try await source.vm(vm) else { throw TetherError(.io, "\(source.host) lost \(vm) during its migration") }
            if let report = state.migration {
                progress[operation] = report
                switch report.status {
                case .completed:
                    return report
                case .failed, .cancelled, .error:
                    throw TetherError(.unsupported, "migration of \(vm) to \(target.host) \(report.status): \(report.error ?? "no reason given")")
                default:
                    break
                }
            } else if state.status == .postmigrate {
                return MigrationReport(status: .completed, transferredBytes: 0, totalBytes: 0)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
