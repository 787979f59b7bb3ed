import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// What the fault tests read of the lab from outside Tether: the guest's sequence on its image,
/// the controller's events, and how many copies of a VM run.
enum LabProbe {
    /// The sequence on `vm`'s image once its counter has reached `atLeast`, read with the VM
    /// paused through its operator monitor (a running guest rewrites sectors under the reader).
    static func sequence(of vm: String, atLeast: UInt64, within timeout: Duration = .seconds(60)) async throws -> CounterSequence {
        let start = ContinuousClock.now
        while true {
            let status = try await SharedLab.status()
            // Read only where it runs: a VM migrating or restarting has no copy to pause yet.
            guard let listed = status.vms.first(where: { $0.name == vm }), listed.state == "running", let monitor = listed.monitor else {
                if ContinuousClock.now - start > timeout {
                    throw TetherError(.timeout, "\(vm) is not running with a monitor in tether status: \(status.vms.filter { $0.name == vm })")
                }
                try await Task.sleep(for: .milliseconds(300))
                continue
            }
            let machine = try await QEMUMachine.adopt(socketPath: monitor, name: vm)
            let read: CounterSequence
            do {
                try await machine.pause()
                let result = Result { () throws(TetherError) -> CounterSequence in try LabGuestImage.sequence(of: SharedLab.layout.image(of: vm)) }
                try await machine.resume()
                await machine.qmp.close()
                read = try result.get()
            } catch {
                await machine.qmp.close()
                throw error
            }
            if (read.maximum ?? 0) >= atLeast || ContinuousClock.now - start > timeout { return read }
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    /// Every event the controller has, oldest first.
    static func events() async throws -> [ClusterEvent] {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["events", "--json", "--socket", SharedLab.layout.controllerSocket],
                                                 timeout: 20)
        guard result.status == 0 else { throw TetherError(.io, "tether events: \(result.stderr)") }
        return try result.stdout.split(separator: "\n").map { try APIJSON.decoder().decode(ClusterEvent.self, from: Data($0.utf8)) }
    }
}

/// Samples, every 50 ms, how many of a VM's QEMUs are running: the operator monitor socket each
/// host's agent keeps for it (one QMP client at a time; a busy one is retried next round). A
/// monitor that does not answer within the round (a QEMU held by dead storage) is not counted.
actor RunningCopies {
    let vm: String
    let sockets: [String]

    init(vm: String, hosts: [String]) {
        self.vm = vm
        sockets = hosts.map { "\(SharedLab.layout.hostDirectory($0))/\(vm).monitor.qmp" }
    }

    /// The sockets are read one after the other, so a live migration's switchover between two
    /// reads of one round (the source read running just before it stopped, the target just
    /// after it started) reads as two copies: a round that sees two looks again at once, and
    /// counts what it sees then. A second copy that really runs is still running then.
    func sample(until limit: Duration) async -> [Int] {
        var counts: [Int] = []
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit, !Task.isCancelled {
            var running = await runningNow()
            if running > 1 { running = await runningNow() }
            counts.append(running)
            try? await Task.sleep(for: .milliseconds(50))
        }
        return counts
    }

    private func runningNow() async -> Int {
        var running = 0
        for socket in sockets where FileManager.default.fileExists(atPath: socket) {
            if let machine = try? await QEMUMachine.adopt(socketPath: socket, timeout: .milliseconds(200)) {
                if (try? await machine.status()) == .running { running += 1 }
                await machine.qmp.close()
            }
        }
        return running
    }
}
