import Placement
import Testing
import TetherModel
import TetherTestSupport

/// The failover flows of shared/spec/placement.md, through a cluster file. In the base world
/// the VMs go largest memory first and each takes memory from its target: vm-big (16 GiB) to
/// host-b (most free after the move: 8 GiB), vm-mid to host-c (12 GiB left), vm-small to
/// host-d (8 GiB left, more than host-c's 4).
struct FailoverPolicyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var fail: String
        var change: @Sendable (inout Cluster) -> Void = { _ in }
        /// vm -> target host, in the order the moves must be planned.
        var moves: [(String, String)]
        var mode: MoveMode?
        var via: String?
        var unplaced: [String] = []
        var says: [String] = []
        var testDescription: String { name }
    }

    static let spread = [("vm-big", "host-b"), ("vm-mid", "host-c"), ("vm-small", "host-d")]

    static let cases: [Case] = [
        Case(name: "host gone: restart elsewhere, largest first, capacity consumed", fail: "host-a", moves: spread, mode: .restart,
             says: ["host-a is gone: restart vm-big from its disk on another host", "host-b chosen: 8192 MiB free after the move",
                    "host-a: it is the failed host"]),
        Case(name: "storage network lost: suspend-resume over the migration network", fail: "host-a:storage", moves: spread,
             mode: .suspendResume, via: "migration", says: ["suspend vm-big, save its state"]),
        Case(name: "management network lost: live over the migration network", fail: "host-a:management", moves: spread,
             mode: .live, via: "migration"),
        Case(name: "migration and vm networks lost: live over the management network", fail: "host-a:migration,vm", moves: spread,
             mode: .live, via: "management", says: ["temporarily configured for migration"]),
        Case(name: "storage and management lost: suspend-resume over migration", fail: "host-a:storage,management", moves: spread,
             mode: .suspendResume, via: "migration"),
        Case(name: "a live move skips targets whose migration network is down", fail: "host-a:management",
             change: { $0.host("host-b") { $0.networks[.migration]?.up = false } },
             // vm-big to host-c (4 GiB left), then both 8 GiB VMs fill host-d exactly.
             moves: [("vm-big", "host-c"), ("vm-mid", "host-d"), ("vm-small", "host-d")], mode: .live, via: "migration",
             says: ["host-b: its migration network is down"]),
        Case(name: "a restart needs no network to carry state", fail: "host-a",
             change: { $0.host("host-b") { $0.networks[.migration]?.up = false } }, moves: spread, mode: .restart),
        Case(name: "a target that is down is never chosen", fail: "host-a",
             change: { $0.host("host-b") { $0.networks[.management]?.up = false } },
             moves: [("vm-big", "host-c"), ("vm-mid", "host-d"), ("vm-small", "host-d")], mode: .restart,
             says: ["host-b: down (management network down)"]),
        Case(name: "no network left to carry the state: unplaced, with a reason for every host", fail: "host-a:management,migration",
             moves: [], unplaced: ["vm-big", "vm-mid", "vm-small"], says: ["no network is left on the VM's host to carry its state"]),
        Case(name: "only the migration network lost: nothing moves", fail: "host-a:migration", moves: [],
             says: ["host-a lost only its migration network; its VMs keep running and nothing moves"]),
        Case(name: "attached devices local beat a should rule", fail: "host-a",
             change: {
                 $0.vm("vm-big") { $0.devices = [DeviceRef(host: "host-d", id: "2-1")] }
                 $0.rules = [.vmHost(vm: "vm-big", hosts: ["host-c"], must: false)]
             },
             moves: [("vm-big", "host-d"), ("vm-mid", "host-b"), ("vm-small", "host-c")], mode: .restart,
             says: ["1 of the VM's attached device is local there"]),
        Case(name: "a should rule beats free memory", fail: "host-a",
             change: { $0.rules = [.vmHost(vm: "vm-big", hosts: ["host-c"], must: false)] },
             moves: [("vm-big", "host-c"), ("vm-mid", "host-b"), ("vm-small", "host-b")], mode: .restart,
             says: ["a should rule names it"]),
        Case(name: "a must rule is obeyed", fail: "host-a",
             change: { $0.rules = [.vmHost(vm: "vm-big", hosts: ["host-d"], must: true)] },
             moves: [("vm-big", "host-d"), ("vm-mid", "host-b"), ("vm-small", "host-c")], mode: .restart,
             says: ["host-b: not among the hosts a must rule allows"]),
        Case(name: "anti-affinity counts moves planned earlier", fail: "host-a",
             change: { $0.rules = [.antiAffinity(vms: ["vm-big", "vm-mid"])]; $0.host("host-c") { $0.memoryMiB = 24576 } },
             moves: [("vm-big", "host-b"), ("vm-mid", "host-c"), ("vm-small", "host-c")], mode: .restart),
        // host-b and host-c equal: vm-big ties and takes host-b; vm-small ties host-c with host-d.
        Case(name: "ties go to the first name", fail: "host-a",
             change: { $0.host("host-c") { $0.memoryMiB = 24576 } },
             moves: [("vm-big", "host-b"), ("vm-mid", "host-c"), ("vm-small", "host-c")], mode: .restart),
        Case(name: "nothing fits: unplaced with one reason per host", fail: "host-a",
             change: { for name in ["host-b", "host-c", "host-d"] { $0.host(name) { $0.memoryMiB = 4096 } } },
             moves: [], unplaced: ["vm-big", "vm-mid", "vm-small"],
             says: ["host-a: it is the failed host", "host-b: not enough memory (needs 16384 MiB, 4096 free)"]),
        Case(name: "capacity runs out part way: the rest are unplaced", fail: "host-a",
             change: { $0.host("host-b") { $0.memoryMiB = 16384 }; for name in ["host-c", "host-d"] { $0.host(name) { $0.memoryMiB = 4096 } } },
             moves: [("vm-big", "host-b")], mode: .restart, unplaced: ["vm-mid", "vm-small"],
             says: ["host-b: not enough memory (needs 8192 MiB, 0 free)"]),
        Case(name: "IO paths lost: live to another host with a path to the datastore", fail: "vm-big:io-paths",
             change: { $0.host("host-b") { $0.datastores = ["ds2"] } }, moves: [("vm-big", "host-c")], mode: .live, via: "migration",
             says: ["vm-big's IO paths to ds1 failed on host-a", "host-a: the VM's IO paths to ds1 failed here", "host-b: no path to datastore ds1"]),
        Case(name: "guest crash on a host that is up: dump and restart in place", fail: "vm-mid:crash",
             moves: [("vm-mid", "host-a")], mode: .restart, says: ["collect its crash dump, then restart it on host-a, which is up"]),
        Case(name: "guest crash on a host that is down: dump and restart elsewhere", fail: "vm-mid:crash",
             change: { $0.host("host-a") { $0.networks[.management]?.up = false } }, moves: [("vm-mid", "host-b")], mode: .restart,
             says: ["its host host-a is down"]),
    ]

    @Test(arguments: cases)
    func plan(_ c: Case) throws {
        var cluster = PolicyWorld.failoverBase()
        c.change(&cluster)
        let index = try PolicyWorld.throughFile(cluster)
        let plan = try FailoverPlanner.plan(Failure.parse(c.fail, index), index)
        #expect(plan.moves.map(\.vm) == c.moves.map(\.0), "planned in the spec's order")
        #expect(plan.moves.map(\.targetHost) == c.moves.map(\.1))
        for move in plan.moves {
            #expect(move.mode == c.mode)
            #expect(move.via == c.via)
            // Why it moves and why there; a restart in place says both in one.
            #expect(move.reasons.count >= (move.targetHost == move.from ? 1 : 2), "\(move.reasons)")
        }
        #expect(plan.unplaced.map(\.vm) == c.unplaced)
        for vm in plan.unplaced {
            #expect(vm.reasons.count == cluster.hosts.count, "one reason for each host: \(vm.reasons)")
        }
        let said = plan.moves.flatMap(\.reasons) + plan.unplaced.flatMap(\.reasons) + plan.notes
        for phrase in c.says {
            #expect(said.contains { $0.contains(phrase) }, "missing '\(phrase)' in \(said)")
        }
    }

    @Test func aCrashDumpIsAskedForOnlyForCrashes() throws {
        let index = try PolicyWorld.throughFile(PolicyWorld.failoverBase())
        #expect(try FailoverPlanner.plan(Failure.parse("vm-mid:crash", index), index).moves.allSatisfy { $0.crashDump == true })
        #expect(try FailoverPlanner.plan(Failure.parse("host-a", index), index).moves.allSatisfy { $0.crashDump == nil })
    }

    @Test(arguments: [("host-a:disk", "'disk' is not a fault of a host"), ("vm-big:storage", "a VM takes exactly one fault"),
                      ("vm-big", "a VM takes exactly one fault"), ("nowhere:crash", "is neither a host nor a VM"),
                      ("host-a:", "a fault is empty")])
    func badFailuresAreClearErrors(_ text: String, _ message: String) throws {
        let index = try PolicyWorld.throughFile(PolicyWorld.failoverBase())
        #expect {
            _ = try Failure.parse(text, index)
        } throws: { error in
            (error as? TetherError)?.message.contains(message) == true
        }
    }
}
