import Foundation
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// Tether's own processes killed with SIGKILL in the middle of a failover, at each step of its
/// journal (`tether lab restart NAME --kill-at STEP:started`: the daemon dies right after
/// journaling that the step began), then started again: the storage flow with the controller
/// killed, the management flow with the agent that moves its own VMs killed. Each time the
/// successor reads the journal and finishes the move: the VM runs on one host, never two at
/// once, with its memory (the guest's sequence on the datastore unbroken).
///
/// A lab of its own: in the full run on the failover suite's shared lab, after its other tests,
/// the controller restarted here did not answer at all (alone, on a fresh lab, every case passes
/// locally and from a fresh clone); that interaction is not understood yet and stays to be found.
@Suite(.serialized, .requires(SharedLab.canRun, "root, QEMU, iproute2, qemu-storage-daemon and the built tetherd"), .sharedLab)
struct LabKilledDaemonTests {
    static let failoverSteps = ["prepare-incoming", "evacuate", "resume", "release-source"]

    @Test(arguments: failoverSteps)
    func storageLostWithTheControllerKilledAt(_ step: String) async throws {
        let host = try await LabFailover.hostOf("vm-a")
        try await LabFailover.waitForNoOperation()
        try await SharedLab.restart("controller", killAt: "\(step):started")
        try await LabFailover.waitForHostsHeard()
        try await LabFailover.expectMovedWithMemory("vm-a", from: host, fault: .storage, trigger: nil, controllerRestarted: true) {
            try await SharedLab.link(host, "st0", up: false)
            try await SharedLab.link(host, "st1", up: false)
            try await SharedLab.waitForDeath(of: "controller")
            print("the controller killed itself at \(step):started")
            try await SharedLab.restart("controller")
        } heal: {
            try await SharedLab.link(host, "st0", up: true)
            try await SharedLab.link(host, "st1", up: true)
            try await SharedLab.waitFor("\(host)'s paths up again") { status in
                status.hosts.first { $0.name == host }?.datastores.first?.paths.map(\.state) == [.up, .up]
            }
        }
    }

    @Test(arguments: failoverSteps)
    func managementLostWithTheMovingAgentKilledAt(_ step: String) async throws {
        let host = try await LabFailover.hostOf("vm-b")
        try await LabFailover.waitForNoOperation()
        try await SharedLab.restart(host, killAt: "\(step):started")
        try await LabFailover.waitForHostsHeard()
        try await LabFailover.expectMovedWithMemory("vm-b", from: host, fault: .management, trigger: .selfTriggered) {
            try await SharedLab.link(host, "mgmt0", up: false)
            try await SharedLab.waitForDeath(of: host)
            print("\(host)'s agent killed itself at \(step):started")
            try await SharedLab.restart(host)
        } heal: {
            try await SharedLab.link(host, "mgmt0", up: true)
        }
    }
}

extension LabFailover {
    /// Nothing in flight: a daemon armed to die at a step must die in the failover the test
    /// starts, not in one an earlier fault left running (recovered at its start).
    static func waitForNoOperation() async throws {
        try await SharedLab.waitFor("no operation in flight", within: .seconds(90)) { $0.operations.isEmpty }
    }

    /// Every host heard, each network of each up: a daemon just started has settled.
    static func waitForHostsHeard() async throws {
        try await SharedLab.waitFor("every host heard with its networks up", within: .seconds(30)) { status in
            status.hosts.allSatisfy { host in host.up && host.condition.verdict == .healthy && host.networks.values.allSatisfy { $0.state == .up } }
        }
        // The agents' views of their peers (membership) need a moment more than the verdict.
        try await Task.sleep(for: .seconds(2))
    }
}
