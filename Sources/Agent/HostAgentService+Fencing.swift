import Foundation
import Hypervisor
import TetherModel

/// Fencing (shared/spec/ha.md): a host that finds itself isolated stops its VMs writing within
/// its isolation deadline, so that the cluster may restart them elsewhere after it; when the
/// cluster answers again, each fenced VM is resumed, or quit where it runs elsewhere by then.
extension HostAgentService {
    /// Pauses every VM that runs here; answers those it fenced. A VM already stopped on a failed
    /// write (`io-error`) stays so (QEMU keeps that state on `stop`), fenced all the same: it is
    /// neither resumed nor given its disk back until the cluster answers. The list is kept on
    /// disk (`stateDirectory/fenced.json`), so that a restarted agent still lets them go.
    public func fence(evidence: [String], deadline: Date) async -> [String] {
        var paused: [String] = []
        for (name, vm) in vms.sorted(by: { $0.key < $1.key }) {
            guard let status = try? await vm.machine.status(), [.running, .ioError].contains(status) else { continue }
            do {
                try await vm.machine.pause()
                paused.append(name)
            } catch {
                logger.error("could not pause the VM to fence it: \(error)", metadata: ["vm": "\(name)"])
            }
        }
        fenced.formUnion(paused)
        saveFenced()
        let late = Date() > deadline
        logger.error("isolated: VMs paused", metadata: ["vms": "\(paused)", "evidence": "\(evidence)",
                                                        "deadline": "\(deadline.formatted(.iso8601))", "late": "\(late)"])
        return paused
    }

    /// The cluster answers again. A fenced VM that `elsewhere` says runs on another host now was
    /// restarted there: this copy is quit, never resumed. The others run on.
    public func releaseFenced(runningElsewhere elsewhere: [String: String]) async {
        for name in fenced.sorted() {
            guard let vm = vms[name] else { continue }
            if let other = elsewhere[name], other != settings.host {
                await vm.machine.kill()
                await forget(name, vm, movedTo: other)
                logger.notice("fenced VM quit: it runs elsewhere now", metadata: ["vm": "\(name)", "on": "\(other)"])
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

    private var fencedFile: String { "\(settings.stateDirectory)/fenced.json" }

    func loadFenced() {
        guard let data = FileManager.default.contents(atPath: fencedFile), let names = try? JSONDecoder().decode([String].self, from: data) else { return }
        fenced = Set(names)
    }

    private func saveFenced() {
        if fenced.isEmpty {
            try? FileManager.default.removeItem(atPath: fencedFile)
        } else {
            try? JSONEncoder().encode(fenced.sorted()).write(to: URL(fileURLWithPath: fencedFile), options: .atomic)
        }
    }
}
