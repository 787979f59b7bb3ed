import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// Fencing in the lab: every link of a host down (no peer, no path, no controller). Its agent
/// must stop its VMs writing within the isolation deadline (6 s from its last contact), and let
/// them run on when the cluster answers again (nothing restarted them elsewhere meanwhile).
extension LabFailoverTests {
    @Test func anIsolatedHostFencesItsVMsWithinItsDeadlineAndRunsThemAgainAfter() async throws {
        let vm = "vm-b"
        let host = try await LabFailover.hostOf(vm)
        let before = try await LabProbe.sequence(of: vm, atLeast: 50)
        let monitor = "\(SharedLab.layout.hostDirectory(host))/\(vm).monitor.qmp"
        let links = ["mgmt0", "mig0", "vm0", "st0", "st1"]
        let lastEvent = try await LabProbe.events().last?.sequence ?? 0
        let cut = ContinuousClock.now
        for link in links { try await SharedLab.link(host, link, up: false) }
        // Fenced: listed in the agent's fenced.json, and not running from then on (paused, or
        // kept stopped on the write that failed: the lab guest writes all the time).
        let fencedFile = "\(SharedLab.layout.hostDirectory(host))/fenced.json"
        var fenced: Duration?
        var ranWhileFenced: [String] = []
        while ContinuousClock.now - cut < .seconds(12) {
            if fenced == nil, let data = FileManager.default.contents(atPath: fencedFile),
               (try? JSONDecoder().decode([String: Bool].self, from: data))?[vm] != nil {
                fenced = ContinuousClock.now - cut
            }
            if let since = fenced, let machine = try? await QEMUMachine.adopt(socketPath: monitor, timeout: .milliseconds(500)) {
                if let state = try? await machine.status(), state == .running { ranWhileFenced.append("\(since)") }
                await machine.qmp.close()
            }
            if let since = fenced, ContinuousClock.now - cut > since + .seconds(3) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        for link in links { try await SharedLab.link(host, link, up: true) }
        let when = try #require(fenced, "\(host) did not fence \(vm) while isolated")
        print("\(host) isolated: \(vm) fenced \(when) after the cut")
        #expect(when < .seconds(6.5), "fenced within the 6 s isolation deadline (from the last contact, about the cut)")
        #expect(ranWhileFenced.isEmpty, "\(vm) ran while fenced")

        let back = try await SharedLab.waitFor("\(vm) running again on \(host)", within: .seconds(30)) { status in
            status.vms.first { $0.name == vm }.map { $0.host == host && $0.state == "running" } == true
                && status.hosts.first { $0.name == host }?.condition.verdict != .dead
        }
        print("\(host) back: \(vm) running again \(back) after its links")
        let after = try await LabProbe.sequence(of: vm, atLeast: (before.maximum ?? 0) + 100)
        #expect(after.isContinuous, "no write lost, none twice: \(after.verdict)")
        // The storage loss it saw while cut off is over: reported late, it is refused, never moved.
        let moves = try await LabProbe.events().filter { $0.sequence > lastEvent && $0.kind == .fault && $0.to == "failover" }
        #expect(moves.isEmpty, "no failover after an isolation that healed: \(moves.map(\.subject))")
        #expect(try await LabFailover.hostOf(vm) == host)
    }
}
