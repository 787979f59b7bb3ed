import Foundation
import Hypervisor
import TetherModel

/// Fencing (shared/spec/ha.md): a host that finds itself isolated stops its VMs writing within
/// its isolation deadline, so that the cluster may restart them elsewhere after it; when the
/// cluster answers again, each fenced VM is resumed, or quit where it runs elsewhere by then.
extension HostAgentService {
    /// Pauses every VM that runs here; answers those it paused. Every copy on the host is
    /// fenced, whatever its state: one already paused (or stopped on a failed write, which QEMU
    /// keeps on `stop`) may have been restarted elsewhere just as well, and is quit then; only
    /// those that ran are resumed. The list is kept on disk (`stateDirectory/fenced.json`), so
    /// that a restarted agent still lets them go.
    ///
    /// With `power-off` the VMs are quit instead; their records stay, so that one nobody
    /// restarted elsewhere meanwhile starts again here from its disk when the cluster answers.
    public func fence(evidence: [String], deadline: Date) async -> [String] {
        let powerOff = settings.fencing?.response == .powerOff
        var paused: [String] = []
        for (name, vm) in vms.sorted(by: { $0.key < $1.key }) where fenced[name] == nil {
            let status = (try? await vm.machine.status()) ?? .unreachable
            guard status.occupiesHost else { continue }   // a migration's end: not this host's to run
            let ran = [.running, .ioError].contains(status)
            fenced[name] = ran
            guard ran else { continue }
            do {
                if powerOff { await vm.machine.kill() } else { try await vm.machine.pause() }
                paused.append(name)
            } catch {
                logger.error("could not pause the VM to fence it: \(error)", metadata: ["vm": "\(name)"])
            }
        }
        saveFenced()
        let late = Date() > deadline
        logger.error(powerOff ? "isolated: VMs powered off" : "isolated: VMs paused", metadata: ["vms": "\(paused)", "evidence": "\(evidence)",
                                                        "deadline": "\(deadline.formatted(.iso8601))", "late": "\(late)"])
        return paused
    }

    /// The cluster answers again. A fenced VM that `elsewhere` says runs on another host now was
    /// restarted there: this copy is quit, never resumed. The others run on.
    public func releaseFenced(runningElsewhere elsewhere: [String: String]) async {
        for (name, ran) in fenced.sorted(by: { $0.key < $1.key }) {
            guard let vm = vms[name] else { continue }
            if let other = elsewhere[name], other != settings.host {
                await vm.machine.kill()
                await forget(name, vm, movedTo: other)
                logger.notice("fenced VM quit: it runs elsewhere now", metadata: ["vm": "\(name)", "on": "\(other)"])
            } else if !ran {
                logger.notice("fenced VM left as it was: it did not run when fenced", metadata: ["vm": "\(name)"])
            } else if settings.fencing?.response == .powerOff, let launch = vm.launch {
                do {
                    vms[name]?.machine = try await launchFromDisk(launch)
                    if let machine = vms[name]?.machine { watchGuest(name, machine) }
                    logger.notice("fenced VM started again from its disk: nobody restarted it elsewhere", metadata: ["vm": "\(name)"])
                } catch {
                    logger.error("could not start the fenced VM again: \(error)", metadata: ["vm": "\(name)"])
                }
            } else {
                do {
                    if try await vm.machine.status() == .paused { try await vm.machine.resume() }
                    logger.notice("fenced VM resumed", metadata: ["vm": "\(name)"])
                } catch {
                    logger.error("could not resume the fenced VM: \(error)", metadata: ["vm": "\(name)"])
                }
            }
        }
        fenced.removeAll()
        saveFenced()
    }

    public var hasFencedVMs: Bool { !fenced.isEmpty }

    private var fencedFile: String { "\(settings.stateDirectory)/fenced.json" }

    func loadFenced() {
        guard let data = FileManager.default.contents(atPath: fencedFile) else { return }
        if let names = try? JSONDecoder().decode([String: Bool].self, from: data) {
            fenced = names
        } else if let names = try? JSONDecoder().decode([String].self, from: data) {
            fenced = Dictionary(names.map { ($0, true) }) { first, _ in first }   // an older agent's list: the VMs it paused
        }
    }

    private func saveFenced() {
        if fenced.isEmpty {
            try? FileManager.default.removeItem(atPath: fencedFile)
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try? encoder.encode(fenced).write(to: URL(fileURLWithPath: fencedFile), options: .atomic)
        }
    }
}
