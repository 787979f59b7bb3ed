import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// The failover flows in a real lab (shared/spec/ha.md): a fault injected from outside, the VM
/// moved by Tether, and the guest's own evidence checked on the datastore: its sequence has no
/// gap and never went back (memory intact), and no two QEMUs ran the VM at any sampled moment.
@Suite(.serialized, .requires(SharedLab.canRun, "root, QEMU, iproute2, qemu-storage-daemon and the built tetherd"), .sharedLab)
struct LabFailoverTests {
    /// Storage network lost on host-a (both storage links down), seen by host-a's own agent: vm-a
    /// is suspended with its disk off the dead storage, its state carried to a host that reaches
    /// ds1, and resumed there; the write that failed on host-a is issued there.
    @Test func storageLostSelfTriggeredMovesTheVMWithItsMemory() async throws {
        try await LabStorageLoss.run(trigger: .selfTriggered)
    }
}

/// The same fault with host-a's agent silent about it: the controller sees host-a's heartbeat
/// records stop advancing on ds1 (its peers read them) while host-a still answers on management,
/// and starts the failover itself.
@Suite(.serialized, .requires(SharedLab.canRun, "root, QEMU, iproute2, qemu-storage-daemon and the built tetherd"), .sharedLabWithoutSelfTrigger)
struct LabExternalFailoverTests {
    @Test func storageLostSeenFromOutsideMovesTheVMWithItsMemory() async throws {
        try await LabStorageLoss.run(trigger: .external)
    }
}

enum LabStorageLoss {
    static func run(trigger: FailoverTrigger) async throws {
        try await SharedLab.waitFor("vm-a running on host-a with both paths up", within: .seconds(60)) { status in
            status.vms.first { $0.name == "vm-a" }.map { $0.state == "running" && $0.host == "host-a" } == true
                && status.hosts.first { $0.name == "host-a" }?.datastores.first?.paths.map(\.state) == [.up, .up]
        }
        let before = try await LabProbe.sequence(of: "vm-a", atLeast: 50)
        #expect(before.isContinuous, "\(before.verdict)")
        let sampler = RunningCopies(vm: "vm-a", hosts: ["host-a", "host-b", "host-c"])
        let sampling = Task { await sampler.sample(until: .seconds(40)) }

        let fault = ContinuousClock.now
        try await SharedLab.link("host-a", "st0", up: false)
        try await SharedLab.link("host-a", "st1", up: false)
        let moved = try await SharedLab.waitFor("vm-a running on another host", within: .seconds(40)) { status in
            status.vms.first { $0.name == "vm-a" }.map { $0.state == "running" && $0.host != "host-a" } == true
        }
        print("storage lost on host-a (\(trigger.rawValue)): vm-a running elsewhere \(moved) after the fault (\(ContinuousClock.now - fault) incl. polling)")
        try await Task.sleep(for: .seconds(1))
        sampling.cancel()
        let samples = await sampling.value
        #expect(samples.count > 20, "the sampler looked \(samples.count) times")
        #expect(samples.allSatisfy { $0 <= 1 }, "two copies of vm-a ran at once: \(samples)")

        let after = try await LabProbe.sequence(of: "vm-a", atLeast: (before.maximum ?? 0) + 100)
        #expect(after.isContinuous, "the sequence on the image has a gap or restarted: \(after.verdict)")
        #expect((after.maximum ?? 0) > (before.maximum ?? 0), "the counter went on from where it was: \(before.maximum ?? 0) -> \(after.maximum ?? 0)")

        let events = try await LabProbe.events()
        let fault0 = events.first { $0.kind == .fault && $0.host == "host-a" && $0.subject == "storage" }
        #expect(fault0?.from == trigger.rawValue, "the fault was seen by \(trigger.rawValue): \(String(describing: fault0))")
        #expect(!events.contains { $0.kind == .fault && $0.host == "host-a" && $0.from != trigger.rawValue && $0.to == "failover" },
                "one trigger only began a failover")
        #expect(fault0?.to == "failover")
        #expect(events.contains { $0.kind == .operation && $0.to == "release-source done" })

        try await SharedLab.link("host-a", "st0", up: true)
        try await SharedLab.link("host-a", "st1", up: true)
        try await SharedLab.waitFor("host-a's paths up again") { status in
            status.hosts.first { $0.name == "host-a" }?.datastores.first?.paths.map(\.state) == [.up, .up]
        }
    }
}
