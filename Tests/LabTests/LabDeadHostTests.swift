import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// A dead host in the lab: every link of a host down for good (no peer, no path, no controller).
/// Its agent fences the VM (pauses it) within its isolation deadline; the controller judges the
/// host dead after 10 s and starts the VM from its disk on another host, no sooner than the
/// deadline (6 s) plus the margin (2 s) after the host's last sign of life. When the host comes
/// back, its agent reads in the cluster view that the VM runs elsewhere and quits its paused
/// copy: never two copies running, the fenced one never running again.
extension LabFailoverTests {
    @Test func aDeadHostsVMRestartsElsewhereAfterItsDeadlineAndItsFencedCopyQuits() async throws {
        let vm = "vm-b"
        let host = try await LabFailover.hostOf(vm)
        _ = try await LabProbe.sequence(of: vm, atLeast: 50)
        let firstEvent = try await LabProbe.events().last?.sequence ?? 0
        let isolatedMonitor = "\(SharedLab.layout.hostDirectory(host))/\(vm).monitor.qmp"
        let sampler = RunningCopies(vm: vm, hosts: SharedLab.layout.hosts)
        let sampling = Task { await sampler.sample(until: .seconds(90)) }
        let links = ["mgmt0", "mig0", "vm0", "st0", "st1"]

        let cut = Date()
        for link in links { try await SharedLab.link(host, link, up: false) }
        var restartedOn: String?
        var ranWhileFenced = 0
        var fencedAt: TimeInterval?
        do {
            let deadline = ContinuousClock.now + .seconds(45)
            while ContinuousClock.now < deadline, restartedOn == nil {
                if let machine = try? await QEMUMachine.adopt(socketPath: isolatedMonitor, timeout: .milliseconds(500)) {
                    let state = try? await machine.status()
                    await machine.qmp.close()
                    if fencedAt == nil, state != .running { fencedAt = Date().timeIntervalSince(cut) }
                    if fencedAt != nil, state == .running { ranWhileFenced += 1 }
                }
                if let status = try? await SharedLab.status(), let record = status.vms.first(where: { $0.name == vm }), record.host != host {
                    restartedOn = record.host
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        } catch {
            for link in links { try? await SharedLab.link(host, link, up: true) }
            throw error
        }
        let target = try #require(restartedOn, "\(vm) was not restarted elsewhere within 45 s of \(host)'s death")
        let events = try await LabProbe.events().filter { $0.sequence > firstEvent }
        let fault = try #require(events.first { $0.kind == .fault && $0.host == host && $0.subject == FaultKind.host.rawValue }, "\(events)")
        let decided = fault.at.timeIntervalSince(cut)
        print("\(host) dead: \(vm) fenced \(fencedAt.map { String(format: "%.1f s", $0) } ?? "-") after the cut, "
              + String(format: "its restart on %@ decided %.1f s after it", target, decided))
        #expect(fault.to == "failover" && fault.from == "external", "\(fault)")
        #expect(decided >= 6, "not before the host's isolation deadline (6 s from its last contact): \(decided) s")
        #expect(fencedAt.map { $0 < 6.5 } == true, "the isolated host paused its copy within its deadline")
        #expect(ranWhileFenced == 0, "the fenced copy ran again while its host was cut off")
        let vmStarted = try await SharedLab.waitFor("\(vm) running on \(target)", within: .seconds(20)) { status in
            status.vms.first { $0.name == vm }.map { $0.host == target && $0.state == "running" } == true
        }
        print("\(vm) running on \(target) \(vmStarted) after its restart showed")

        // The dead host comes back: its fenced copy is quit, not resumed.
        for link in links { try await SharedLab.link(host, link, up: true) }
        try await SharedLab.waitFor("\(host) heard again, \(vm) on \(target) only", within: .seconds(30)) { status in
            status.hosts.first { $0.name == host }?.up == true && status.vms.filter { $0.name == vm }.map(\.host) == [target]
        }
        let quitDeadline = ContinuousClock.now + .seconds(15)
        var stillThere = true
        while ContinuousClock.now < quitDeadline, stillThere {
            if let machine = try? await QEMUMachine.adopt(socketPath: isolatedMonitor, timeout: .milliseconds(500)) {
                await machine.qmp.close()
                try await Task.sleep(for: .milliseconds(200))
            } else {
                stillThere = false
            }
        }
        #expect(!stillThere, "\(host)'s fenced copy of \(vm) was quit once it read where \(vm) runs now")
        sampling.cancel()
        let samples = await sampling.value
        #expect(samples.count > 20, "the sampler looked \(samples.count) times")
        #expect(samples.allSatisfy { $0 <= 1 }, "two copies of \(vm) ran at once: \(samples)")
        #expect(try await writesAgain(vm), "the restarted guest writes again, on \(target)")
    }
}
