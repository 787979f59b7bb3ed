import Foundation
import TetherModel

/// The steps that move a VM from one host's agent to another's, shared by whoever drives them:
/// the controller (an attach's migration, a failover) and a host's agent moving its own VMs.
/// Each looks at where the VM actually is before acting, so a step run again after a crash of
/// its driver does no harm.
public struct MigrationSteps: Sendable {
    public let vm: String
    public let source: any HostAgent
    public let target: any HostAgent

    public init(vm: String, source: any HostAgent, target: any HostAgent) {
        self.vm = vm
        self.source = source
        self.target = target
    }

    /// Starts the VM on the target waiting for its state. `before` runs once the source's copy
    /// is known and before the target starts (the controller lets the VM's devices follow it).
    public func prepareIncoming(via network: NetworkRole? = nil,
                                before: @Sendable (AgentVMState) async throws(TetherError) -> Void = { _ throws(TetherError) in })
        async throws(TetherError) -> (detail: String?, output: StepOutput?) {
        // The stopped end of an earlier migration on the target is no copy of the VM: the
        // target's agent replaces it with one waiting for the state.
        if let there = try await target.vm(vm), there.status.occupiesHost {
            return ("\(vm) already runs on \(target.host) (\(there.status))", .alreadyMoved)
        }
        guard let here = try await source.vm(vm) else { throw TetherError(.notFound, "\(source.host) no longer runs \(vm)") }
        guard let launch = here.launch else {
            throw TetherError(.unsupported, "\(source.host) adopted \(vm) and does not know how it was started; it cannot be migrated")
        }
        try await before(here)
        if here.status == .postmigrate {
            // The migration may have ended between the two questions: the target has it now.
            if let there = try await targetsCopy(), there.status.occupiesHost {
                return ("\(vm) already runs on \(target.host) (\(there.status))", .alreadyMoved)
            }
            throw TetherError(.internalError, "\(vm)'s state already left \(source.host), but \(target.host) does not run it")
        }
        let address = try await target.prepareIncoming(IncomingRequest(launch: launch, source: source.host, registration: here.registration,
                                                                       channels: here.channels, via: network))
        let following = here.channels.isEmpty ? "" : ", with \(here.channels.map(\.session).joined(separator: ", ")) following it"
        return ("\(target.host) waits for \(vm) at \(address)" + following, .incoming(address))
    }

    /// Sends the VM's state: a plain live migration, or a failover's evacuation (the disk first
    /// taken off a datastore the source no longer reaches, when `leaveStorage`).
    public func send(_ prepared: StepOutput?, evacuate: Bool, leaveStorage: Bool, maxBandwidth: Int? = nil,
                     progress: @Sendable (MigrationReport) async -> Void = { _ in }) async throws(TetherError) -> (detail: String?, output: StepOutput?) {
        switch prepared {
        case .alreadyMoved:
            return ("nothing to do", nil)
        case .incoming(let address):
            let report = try await follow(progress: progress) { () throws(TetherError) in
                if evacuate {
                    try await source.evacuate(EvacuateRequest(vm: vm, to: address, target: target.host, leaveStorage: leaveStorage,
                                                              maxBandwidthBytesPerSecond: maxBandwidth))
                } else {
                    try await source.startMigration(vm: vm, to: address, target: target.host)
                }
            }
            let how = leaveStorage ? "took its disk off the datastore, sent its state" : "migrated"
            return ("\(how) to \(target.host)" + (report.downtimeMs.map { ", downtime \($0) ms" } ?? ""), .migrated(report))
        default:
            throw TetherError(.internalError, "no incoming address for \(vm) in the journal")
        }
    }

    public func resume() async throws(TetherError) -> String {
        let state = try await target.resume(vm: vm)
        return "\(vm) \(state.operatorWord) on \(target.host)"
    }

    public func releaseSource() async throws(TetherError) -> String {
        guard let state = try await source.vm(vm) else { return "\(source.host) has no copy of \(vm) left" }
        guard state.status == .postmigrate else {
            throw TetherError(.internalError, "\(vm) is \(state.status) on \(source.host) after its migration; it must not run twice")
        }
        // A precopy migration ends at the source once it sent everything, without an answer
        // from the target: a target that hung up (a refused certificate) never got the VM, and
        // the source's stopped copy is then the only one.
        guard let there = try await targetsCopy(), there.status.occupiesHost else {
            throw TetherError(.internalError, "\(vm)'s state left \(source.host), but \(target.host) does not run it: "
                              + "the stopped copy on \(source.host) is kept")
        }
        try await source.release(vm: vm, movedTo: target.host)
        return "quit the stopped copy on \(source.host)"
    }

    /// The target's copy once it has loaded the state: the source reports its migration done
    /// when it sent the last of it, and a loaded target takes a moment more to load it and leave
    /// `inmigrate`. One still waiting after `settle` never got the VM.
    func targetsCopy(settle: Duration = .seconds(10)) async throws(TetherError) -> AgentVMState? {
        let deadline = ContinuousClock.now + settle
        while true {
            let there = try await target.vm(vm)
            guard there?.status == .inmigrate, ContinuousClock.now < deadline, !Task.isCancelled else { return there }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A target still waiting for the VM is quit; one that runs it keeps it.
    public func abandonIncoming() async throws(TetherError) {
        if let state = try await target.vm(vm), state.status == .inmigrate {
            try await target.abandonIncoming(vm: vm)
        }
    }

    /// Starts the VM's move with `start` unless one already runs or ended (a restarted driver
    /// finds it under way, or done), then follows the source's reports to the end.
    func follow(progress: @Sendable (MigrationReport) async -> Void, start: @Sendable () async throws(TetherError) -> Void)
        async throws(TetherError) -> MigrationReport {
        let state = try await source.vm(vm)
        let under = state?.migration.map { !$0.status.isFinished } ?? false
        if !under && state?.status != .postmigrate {
            try await start()
        }
        while true {
            guard let state = try await source.vm(vm) else { throw TetherError(.io, "\(source.host) lost \(vm) during its migration") }
            if let report = state.migration {
                await progress(report)
                if report.status == .completed { return report }
                if report.status.isFailure {
                    throw TetherError(.unsupported, "migration of \(vm) to \(target.host) \(report.status): \(report.error ?? "no reason given")")
                }
            } else if state.status == .postmigrate {
                return MigrationReport(status: .completed, transferredBytes: 0, totalBytes: 0)
            }
            try? await Task.sleep(for: .milliseconds(100))
            if Task.isCancelled { throw TetherError(.interrupted, "the driver is shutting down") }
        }
    }
}
