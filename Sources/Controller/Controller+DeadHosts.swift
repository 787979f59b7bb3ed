import Failover
import Foundation
import TetherModel

/// A host gone silent on every network and datastore (shared/spec/ha.md): its VMs are started
/// from their disks elsewhere, only once the host itself has stopped them (its isolation
/// deadline, counted from its last sign of life) plus a margin, and only if it fences at all.
/// From the moment a restart is decided, the cluster view shows the VM on its new host, so
/// that the silent host, should it come back, quits its fenced copy instead of resuming it.
extension Controller {
    /// After the silent host's isolation deadline, before its VMs start elsewhere: its clock may
    /// run late, and its last pause may take a moment.
    static let fencingMargin: TimeInterval = 2

    /// The last time anything said the host's agent was alive, and whether what was heard last
    /// was the agent (a kernel that answers while the agent is gone fences nothing).
    struct SignOfLife: Sendable {
        var at: Date
        var agentAlive: Bool
    }

    /// A VM being restarted on `target`: shown there (state `restarting`) until its host has it.
    struct RestartInFlight: Sendable {
        var from: String
        var target: String
        var vm: RegisteredVM
    }

    /// Called with each evaluation: heard, or heard of by its peers or on a datastore, is a sign
    /// of life; a kernel that answers for an agent that does not is one too, of a host whose VMs
    /// may still run unfenced.
    func noteSignsOfLife(_ judged: [String: HostJudgement.Judged], at time: Date) {
        for (host, verdict) in judged {
            switch verdict.condition.verdict {
            case .silent, .dead: continue
            case .agentDown: signsOfLife[host] = SignOfLife(at: time, agentAlive: false)
            // Heard of by its peers or on a datastore, in reports that are at most a moment old.
            case .managementLost: signsOfLife[host] = SignOfLife(at: time, agentAlive: true)
            // Heard by the controller: its last heartbeat, not the grace after it.
            default: signsOfLife[host] = SignOfLife(at: lastHeartbeat[host] ?? time, agentAlive: true)
            }
        }
    }

    /// The fault of a dead host once its VMs may be restarted elsewhere; a reason when they may
    /// not be (said once); nil while its deadline runs or it has no VMs.
    func deadHostFault(_ host: String, _ judged: HostJudgement.Judged, at time: Date) -> Result<FaultReport, HeldBack>? {
        guard judged.condition.verdict == .dead, let registration = registrations[host], !registration.vms.isEmpty else { return nil }
        guard let sign = signsOfLife[host] else { return nil }   // never heard since this controller started
        guard let fencing = registration.fencing, fencing.fences else {
            return .failure(HeldBack("\(host) does not fence its VMs when isolated (isolationResponse none, or no network to tell isolation by): "
                                     + "they are not restarted elsewhere, lest a copy still writes their disks; power the host off and restart them"))
        }
        guard sign.agentAlive else {
            return .failure(HeldBack("\(host)'s agent was down before the host went silent: nothing fenced its VMs, so they are not restarted "
                                     + "elsewhere; power the host off and restart them"))
        }
        let restartAt = sign.at.addingTimeInterval(fencing.deadlineSeconds + Self.fencingMargin)
        guard time >= restartAt else { return nil }
        return .success(FaultReport(host: host, fault: .host, evidence: judged.condition.reasons + [
            String(format: "last sign of life %.1f s ago; its isolation deadline (%.0f s, %@) and the %.0f s margin have passed",
                   time.timeIntervalSince(sign.at), fencing.deadlineSeconds, fencing.response.rawValue, Self.fencingMargin),
        ], faultAt: sign.at))
    }

    /// Whether the controller itself heard `host` (a heartbeat or registration) within the
    /// judgement's heard window.
    func heardNow(_ host: String, at time: Date) -> Bool {
        lastHeartbeat[host].map { time.timeIntervalSince($0) <= settings.judgement.heardWithin } ?? false
    }

    struct HeldBack: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Takes a dead host's VM for a restart on `order.target`, before anything is journaled:
    /// the host must still be silent at this instant (a heartbeat that came in meanwhile wins),
    /// and from now on every view shows the VM on its target. Nil: not taken, with why.
    func claimRestart(_ order: inout FailoverOrder) -> String? {
        guard order.fault == .host else { return nil }
        let time = now()
        if heardNow(order.from, at: time) {
            return "\(order.from) was heard again: \(order.vm) is not restarted elsewhere"
        }
        guard var registration = registrations[order.from], let v = registration.vms.firstIndex(where: { $0.name == order.vm }) else {
            return "\(order.from) no longer lists \(order.vm)"
        }
        let vm = registration.vms[v]
        // A move that reached its target before the host died (its source never released) left
        // the VM in the dead host's last listing too: the copy a heard host runs is the VM.
        if let other = registrations.values.first(where: { other in
            other.host != order.from && other.vms.contains { $0.name == order.vm && $0.status.occupiesHost } && heardNow(other.host, at: time)
        }) {
            return "\(order.vm) runs on \(other.host), which is heard: \(order.from)'s last listing of it is older; it is not restarted"
        }
        guard vm.launch != nil else {
            return "\(order.vm) was adopted by its QMP socket on \(order.from), without launch figures: it cannot be started elsewhere"
        }
        order.registeredVM = vm
        registration.vms.remove(at: v)
        registrations[order.from] = registration
        restarting[order.vm] = RestartInFlight(from: order.from, target: order.target, vm: vm)
        model = nil
        pushedView = nil
        return nil
    }

    /// A claim whose operation was not begun (another runs for the VM): the VM goes back.
    func unclaimRestart(_ order: FailoverOrder) {
        guard order.fault == .host, let inFlight = restarting.removeValue(forKey: order.vm) else { return }
        registrations[inFlight.from]?.vms.append(inFlight.vm)
        model = nil
        pushedView = nil
    }

    /// The claim is journaled: the silent host's registration without the VM is kept too.
    func keepClaim(_ order: FailoverOrder) async {
        guard order.fault == .host, let registration = registrations[order.from] else { return }
        try? await store.saveRegistration(registration)
    }

    /// A restarted controller takes up the claims of the restarts its journal has in flight.
    func restartResumed(_ operation: OperationRecord) {
        guard let order = operation.failover, order.fault == .host, let vm = order.registeredVM else { return }
        registrations[order.from]?.vms.removeAll { $0.name == order.vm }
        restarting[order.vm] = RestartInFlight(from: order.from, target: order.target, vm: vm)
        model = nil
        pushedView = nil
    }

    /// Done: the VM is its target's (until that agent's next registration says so itself); or
    /// it did not start, and is shown where it was, with its host.
    func restartFinished(_ operation: OperationRecord, completed: Bool) {
        guard let order = operation.failover, order.fault == .host, let inFlight = restarting.removeValue(forKey: order.vm) else { return }
        if completed {
            var vm = inFlight.vm
            vm.status = .running
            // In place of what the target listed of it before (the stopped end of a migration).
            registrations[inFlight.target]?.vms.removeAll { $0.name == vm.name && !$0.status.occupiesHost }
            if registrations[inFlight.target]?.vms.contains(where: { $0.name == vm.name }) == false {
                registrations[inFlight.target]?.vms.append(vm)
            }
        } else if registrations[inFlight.from]?.vms.contains(where: { $0.name == order.vm }) == false {
            registrations[inFlight.from]?.vms.append(inFlight.vm)
        }
        model = nil
        pushedView = nil
    }

    /// The registrations with each VM in restart shown on its target, as `restarting`.
    func withRestarts(_ registered: [AgentRegistration]) -> [AgentRegistration] {
        guard !restarting.isEmpty else { return registered }
        var out = registered
        for (name, inFlight) in restarting.sorted(by: { $0.key < $1.key }) {
            guard let t = out.firstIndex(where: { $0.host == inFlight.target }),
                  !out[t].vms.contains(where: { $0.name == name && $0.status.occupiesHost }) else { continue }
            out[t].vms.removeAll { $0.name == name }   // the stopped end of an earlier migration, if any
            var vm = inFlight.vm
            vm.status = .prelaunch
            out[t].vms.append(vm)
        }
        return out
    }
}
