import Foundation
import Hypervisor
import Lab
import TetherClient
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// The failover flows in a real lab (shared/spec/ha.md): a fault injected from outside, the VM
/// moved by Tether, and the guest's own evidence checked on the datastore: its sequence has no
/// gap and never went back (memory intact), and no two QEMUs ran the VM at any sampled moment.
/// Each test takes the VM where it is, so the order of the tests does not matter.
@Suite(.serialized, .requires(SharedLab.canRun, "root, QEMU, iproute2, qemu-storage-daemon and the built tetherd"), .sharedLab)
struct LabFailoverTests {
    /// Storage network lost on vm-a's host (both storage links down), seen by the host's own
    /// agent: vm-a is suspended with its disk off the dead storage, its state carried to a host
    /// that reaches ds1, and resumed there; the write that failed is issued there.
    @Test func storageLostSelfTriggeredMovesTheVMWithItsMemory() async throws {
        try await LabStorageLoss.run(trigger: .selfTriggered)
    }

    /// Every IO path of vm-c lost on its host while the host's own paths answer (nftables in the
    /// host's namespace drops vm-c's NBD connections and refuses new ones): the agent finds no
    /// path that takes the disk again and vm-c moves live to a host whose path works; the write
    /// that failed is issued there.
    @Test(.requires(Tools.which("nft") != nil, "nft (Debian's nftables)"))
    func ioPathsLostMovesTheVMLive() async throws {
        let host = try await LabFailover.hostOf("vm-c")
        let faults = try await LabFailover.expectMovedWithMemory("vm-c", from: host, fault: .ioPaths, trigger: .selfTriggered) {
            try await LabIOPathFault.cut("vm-c", on: host)
        } heal: {
            try await LabIOPathFault.heal(on: host)
        }
        // Known before TCP gave up on the write (3 s): its connection, retransmitted into while
        // the host's heartbeats on the same path went through, was closed by the agent.
        #expect(faults.first?.detail.contains { $0.contains("disk connection") && $0.contains("was closed") } == true, "\(faults)")
        let status = try await SharedLab.status()
        let paths = status.hosts.first { $0.name == host }?.datastores.first?.paths.map(\.state)
        #expect(paths == [.up, .up], "\(host)'s own paths stayed up through the fault: \(String(describing: paths))")
    }

    /// vm-b's NBD connections broken but the storage still taking new ones: the agent reopens the
    /// disk over a fresh connection and vm-b runs on where it was, no failover.
    @Test(.requires(Tools.which("nft") != nil, "nft (Debian's nftables)"))
    func ioPathBrokenButReopenableKeepsTheVMOnItsHost() async throws {
        let host = try await LabFailover.hostOf("vm-b")
        let before = try await LabProbe.sequence(of: "vm-b", atLeast: 50)
        let firstEvent = try await LabProbe.events().last?.sequence ?? 0
        let connections = Set(try IOPathFault.nbdPorts(of: "vm-b", on: host))
        try await LabIOPathFault.whileCut("vm-b", on: host, refuseNew: false) {
            // Reopened as soon as the failed IO is seen (the storage network answers): the
            // io-error may be too short to show in the status; the fresh connection shows.
            let back = try await SharedLab.waitFor("vm-b running on a fresh NBD connection", within: .seconds(20)) { status in
                guard status.vms.first(where: { $0.name == "vm-b" })?.state == "running",
                      let now = try? IOPathFault.nbdPorts(of: "vm-b", on: host) else { return false }
                return !now.isEmpty && connections.isDisjoint(with: now)
            }
            print("\(host): vm-b's NBD connections cut, its disk reopened and the VM running \(back) after the cut")
        }
        let status = try await SharedLab.status()
        #expect(status.vms.first { $0.name == "vm-b" }?.host == host, "vm-b stayed on \(host)")
        let after = try await LabProbe.sequence(of: "vm-b", atLeast: (before.maximum ?? 0) + 50)
        #expect(after.isContinuous, "\(after.verdict)")
        let events = try await LabProbe.events().filter { $0.sequence > firstEvent }
        #expect(!events.contains { $0.kind == .fault || $0.kind == .operation }, "no failover: \(events)")
    }
}

extension LabFailoverTests {
    /// vm-b's host loses its management network (mgmt0 down): no controller, no peer on
    /// management, peers on migration. The host moves its VMs itself, placed on the cluster view
    /// the controller pushed, asking the targets' agents directly over the migration network;
    /// the controller, which hears it no more, does not act, and journals the moves when the
    /// host reaches it again.
    @Test func managementLostTheHostMovesItsVMsItself() async throws {
        let host = try await LabFailover.hostOf("vm-b")
        let others = try await SharedLab.status().vms.filter { $0.host == host && $0.name != "vm-b" }.map(\.name)
        let since = try await LabProbe.events().last?.sequence ?? 0
        try await LabFailover.expectMovedWithMemory("vm-b", from: host, fault: .management, trigger: .selfTriggered) {
            try await SharedLab.link(host, "mgmt0", up: false)
        } heal: {
            try await SharedLab.link(host, "mgmt0", up: true)
        }
        let status = try await SharedLab.status()
        for vm in others {
            #expect(status.vms.first { $0.name == vm }.map { $0.host != host && $0.state == "running" } == true, "\(vm) left \(host) too")
        }
        let events = try await LabProbe.events().filter { $0.sequence > since }
        #expect(!events.contains { $0.kind == .fault && $0.host == host && $0.from == FailoverTrigger.external.rawValue },
                "the controller did not act on \(host) itself")
        let journaled = events.filter { $0.kind == .fault && $0.subject == "management" }.flatMap(\.detail)
        #expect(journaled.contains { $0.contains("on its own") && $0.contains("journaled here") }, "\(journaled)")
    }
}

extension LabFailoverTests {
    /// vm-a's host loses its migration and VM networks (mig0 and vm0 down) and keeps
    /// management: the target listens on its management address for the time of the move, vm-a
    /// moves live over management, and the listener is gone afterwards.
    @Test func migrationAndVMLostMovesOverManagement() async throws {
        let host = try await LabFailover.hostOf("vm-a")
        let sentBefore = try await LabInterfaces.txBytes(host, "mgmt0")
        try await LabFailover.expectMovedWithMemory("vm-a", from: host, fault: .migrationAndVM, trigger: nil) {
            try await SharedLab.link(host, "mig0", up: false)
            try await SharedLab.link(host, "vm0", up: false)
        } heal: {
            try await SharedLab.link(host, "mig0", up: true)
            try await SharedLab.link(host, "vm0", up: true)
        }
        let sent = try await LabInterfaces.txBytes(host, "mgmt0") - sentBefore
        let events = try await LabProbe.events()
        let evacuated = try #require(events.last { $0.kind == .operation && $0.to == "evacuate done" })
        let client = ControllerClient(APIClient(.unixSocket(SharedLab.layout.controllerSocket)))
        let record = try await client.operation(evacuated.subject)
        await client.api.close()
        #expect(record.failover?.via == .management, "\(String(describing: record.failover))")
        guard case .migrated(let report) = record.output(of: "evacuate") else {
            Issue.record("no migration report in \(record.id)")
            return
        }
        #expect(sent >= report.transferredBytes, "vm-a's \(report.transferredBytes) bytes of state left over mgmt0 (\(sent) bytes sent there)")
        let target = try #require(record.failover?.target)
        let listening = try await LabInterfaces.listeners(target, on: LabFailover.managementAddress(of: target))
        #expect(listening == [LabLayout.agentPort], "only the agent listens on \(target)'s management address after the move: \(listening)")
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
        let host = try await LabFailover.hostOf("vm-a")
        try await LabFailover.expectMovedWithMemory("vm-a", from: host, fault: .storage, trigger: trigger) {
            try await SharedLab.link(host, "st0", up: false)
            try await SharedLab.link(host, "st1", up: false)
        } heal: {
            try await SharedLab.link(host, "st0", up: true)
            try await SharedLab.link(host, "st1", up: true)
            try await SharedLab.waitFor("\(host)'s paths up again") { status in
                status.hosts.first { $0.name == host }?.datastores.first?.paths.map(\.state) == [.up, .up]
            }
        }
    }
}

enum LabFailover {
    /// A lab host's management address, from the lab's layout.
    static func managementAddress(of host: String) throws -> String {
        let layout = SharedLab.layout
        guard let index = layout.hosts.firstIndex(of: host) else { throw TetherError(.notFound, "no host \(host) in the lab") }
        return layout.addresses(of: index).management
    }

    /// The host the VM runs on once it runs with its host's paths up.
    static func hostOf(_ vm: String) async throws -> String {
        var host = ""
        var listedTwice = false
        try await SharedLab.waitFor("\(vm) running with its host's paths up", within: .seconds(60)) { status in
            // One copy listed: a host back in touch can list, for a moment, what it had before
            // it moved the VM away (its registration sent before the move, delivered after).
            let copies = status.vms.filter { $0.name == vm }
            guard let record = copies.first, record.state == "running" else { return false }
            guard copies.count == 1 else {
                if !listedTwice { print("\(vm) listed \(copies.count) times: \(copies.map { "\($0.host) \($0.state)" })") }
                listedTwice = true
                return false
            }
            let on = record.host
            host = on
            return status.hosts.first { $0.name == on }?.datastores.first?.paths.map(\.state) == [.up, .up]
        }
        return host
    }

    /// Injects the fault, waits for the VM to run elsewhere, and checks what the guest and the
    /// controller say: never two running copies, the guest's sequence continuous and grown, one
    /// fault event of that kind from that trigger, and the failover's last step done.
    /// `trigger`: who must have seen the fault first; nil: either (both watch it).
    /// `controllerRestarted`: `inject` kills and restarts the controller, whose events (the
    /// fault's among them) die with it; the journal's steps, finished by its successor, remain.
    @discardableResult
    static func expectMovedWithMemory(_ vm: String, from host: String, fault kind: FaultKind, trigger: FailoverTrigger?,
                                      controllerRestarted: Bool = false,
                                      inject: () async throws -> Void, heal: () async throws -> Void) async throws -> [ClusterEvent] {
        let before = try await LabProbe.sequence(of: vm, atLeast: 50)
        #expect(before.isContinuous, "\(before.verdict)")
        let firstEvent = try await LabProbe.events().last?.sequence ?? 0
        let sampler = RunningCopies(vm: vm, hosts: SharedLab.layout.hosts)
        let sampling = Task { await sampler.sample(until: .seconds(40)) }

        let start = ContinuousClock.now
        do {
            try await inject()
        } catch {
            // Healed all the same: a fault left in place would fail every test after this one.
            try? await heal()
            throw error
        }
        let moved: Duration
        do {
            moved = try await SharedLab.waitFor("\(vm) running on another host", within: .seconds(40)) { status in
                status.vms.first { $0.name == vm }.map { $0.state == "running" && $0.host != host } == true
            }
        } catch {
            try? await heal()
            throw error
        }
        print("\(kind.rawValue) fault on \(host) (\(trigger?.rawValue ?? "either")): \(vm) running elsewhere \(moved) after the fault (\(ContinuousClock.now - start) incl. polling)")
        try await Task.sleep(for: .seconds(1))
        sampling.cancel()
        let samples = await sampling.value
        #expect(samples.count > 20, "the sampler looked \(samples.count) times")
        #expect(samples.allSatisfy { $0 <= 1 }, "two copies of \(vm) ran at once: \(samples)")

        let after = try await LabProbe.sequence(of: vm, atLeast: (before.maximum ?? 0) + 100)
        #expect(after.isContinuous, "the sequence on the image has a gap or restarted: \(after.verdict)")
        #expect((after.maximum ?? 0) > (before.maximum ?? 0), "the counter went on from where it was: \(before.maximum ?? 0) -> \(after.maximum ?? 0)")

        // Healed first: a host that moved its VMs on its own hands the moves over once it
        // reaches the controller again.
        try await heal()
        var events: [ClusterEvent] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            events = try await LabProbe.events().filter { $0.sequence > (controllerRestarted ? 0 : firstEvent) }
            // A host's own moves are handed over step by step, their fault event last.
            if events.contains(where: { $0.kind == .operation && $0.to == "release-source done" }),
               controllerRestarted || events.contains(where: { $0.kind == .fault && $0.host == host && $0.subject == kind.rawValue }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(events.contains { $0.kind == .operation && $0.to == "release-source done" })
        guard !controllerRestarted else { return [] }
        let faults = events.filter { $0.kind == .fault && $0.host == host && $0.subject == kind.rawValue }
        if let trigger { #expect(faults.first?.from == trigger.rawValue, "the fault was seen by \(trigger.rawValue): \(faults)") }
        #expect(faults.first?.to == "failover", "\(faults)")
        #expect(faults.filter { $0.to == "failover" }.count == 1, "one sighting began the failover: \(faults)")
        return faults
    }
}
