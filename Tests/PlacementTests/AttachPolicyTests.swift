import Placement
import Testing
import TetherModel
import TetherTestSupport

/// The attach table of shared/spec/placement.md, one row per rule, through a cluster file.
struct AttachPolicyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var container = "cam-1"
        var device = "host-b/1-3"
        var change: @Sendable (inout Cluster) -> Void = { _ in }
        var action: AttachDecision.Action
        var targetHost: String? = nil
        var says: [String] = []
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "device on the VM's own host: local", device: "host-a/2-1",
             change: { $0.host("host-a") { $0.devices = [Device(id: "2-1", periodicBytesPerSecond: 24_677_000)] } },
             action: .local, says: ["the device is on host-a, where vm-1 runs"]),
        Case(name: "webcam for a 100 Mbit/s VM: migrate to the device", action: .migrate, targetHost: "host-b",
             says: ["device needs 197.4 Mbit/s, 197% of the VM's 100 Mbit/s (threshold 50%)", "host-b can take vm-1"]),
        Case(name: "serial dongle: forward", device: "host-b/1-4", action: .forward,
             says: ["forward the device over a channel from host-b to host-a"]),
        Case(name: "exactly at the threshold is not more than it: forward",
             change: { $0.host("host-b") { $0.devices[0].periodicBytesPerSecond = 6_250_000 } }, action: .forward,
             says: ["50% of the VM's 100 Mbit/s (threshold 50%)"]),
        Case(name: "one byte per second over the threshold: migrate",
             change: { $0.host("host-b") { $0.devices[0].periodicBytesPerSecond = 6_250_001 } }, action: .migrate, targetHost: "host-b"),
        Case(name: "bulk traffic counts toward the need",
             change: { $0.host("host-b") { $0.devices[1].bulkBytesPerSecond = 7_000_000 } }, action: .migrate, targetHost: "host-b"),
        Case(name: "a lower threshold migrates smaller devices", device: "host-b/1-4",
             change: { $0.policy.migrateThresholdPercent = 0 }, action: .migrate, targetHost: "host-b"),
        Case(name: "the device's host is down: reject, though a migration was wanted",
             change: { $0.host("host-b") { $0.networks[.management]?.up = false } }, action: .reject,
             says: ["host-b is down (its management network is not up): the device cannot be reached"]),
        Case(name: "the device's host is down: reject, though a forward fits", device: "host-b/1-4",
             change: { $0.host("host-b") { $0.networks[.management]?.up = false } }, action: .reject,
             says: ["host-b is down (its management network is not up): the device cannot be reached"]),
        Case(name: "the device's host has no management network: reject", device: "host-b/1-4",
             change: { $0.host("host-b") { $0.networks[.management] = nil } }, action: .reject,
             says: ["host-b is down"]),
        Case(name: "the host is down comes first, before local", device: "host-a/2-1",
             change: {
                 $0.host("host-a") {
                     $0.devices = [Device(id: "2-1", periodicBytesPerSecond: 8_000)]
                     $0.networks[.management]?.up = false
                 }
             },
             action: .reject, says: ["host-a is down"]),
        Case(name: "migration wanted but the target cannot take the VM; more than the allocation: reject",
             change: { $0.host("host-b") { $0.memoryMiB = 4096 } }, action: .reject,
             says: ["migrating vm-1 to host-b is not possible: host-b: not enough memory", "more than vm-1's whole network allocation"]),
        Case(name: "migration wanted but infeasible; within the allocation: forward",
             change: { $0.vm("vm-1") { $0.networkMbps = 300 }; $0.host("host-b") { $0.memoryMiB = 4096 } }, action: .forward,
             says: ["host-b: not enough memory (needs 8192 MiB, 4096 free)", "forward the device"]),
        Case(name: "not enough cpus on the target",
             change: { $0.vm("vm-1") { $0.networkMbps = 300 }; $0.host("host-b") { $0.cpus = 2 } }, action: .forward,
             says: ["host-b: not enough cpus (needs 4, 2 free)"]),
        Case(name: "no path to the VM's datastore on the target",
             change: { $0.vm("vm-1") { $0.networkMbps = 300 }; $0.host("host-b") { $0.datastores = ["ds2"] }; $0.host("host-c") { $0.datastores = ["ds1"] } },
             action: .forward, says: ["host-b: no path to datastore ds1"]),
        Case(name: "a must rule keeps the VM off the device's host",
             change: { $0.vm("vm-1") { $0.networkMbps = 300 }; $0.rules = [.vmHost(vm: "vm-1", hosts: ["host-a", "host-c"], must: true)] },
             action: .forward, says: ["host-b: not among the hosts a must rule allows"]),
        Case(name: "a should rule does not keep it off",
             change: { $0.rules = [.vmHost(vm: "vm-1", hosts: ["host-c"], must: false)] }, action: .migrate, targetHost: "host-b"),
        Case(name: "anti-affinity with a VM on the device's host",
             change: {
                 $0.vm("vm-1") { $0.networkMbps = 300 }
                 $0.vms.append(VM(name: "vm-3", host: "host-b", cpus: 1, memoryMiB: 1024, networkMbps: 100, datastore: "ds1"))
                 $0.rules = [.antiAffinity(vms: ["vm-1", "vm-3"])]
             }, action: .forward, says: ["host-b: vm-3 runs there (anti-affinity)"]),
        Case(name: "migration network down on the target",
             change: { $0.vm("vm-1") { $0.networkMbps = 300 }; $0.host("host-b") { $0.networks[.migration]?.up = false } },
             action: .forward, says: ["host-b: its migration network is down"]),
        Case(name: "migration network absent on the VM's host",
             change: { $0.vm("vm-1") { $0.networkMbps = 300 }; $0.host("host-a") { $0.networks[.migration] = nil } },
             action: .forward, says: ["cannot send over its migration network"]),
        Case(name: "the device serves another VM: reject",
             change: { $0.vm("vm-2") { $0.devices = [DeviceRef(host: "host-b", id: "1-3")] } }, action: .reject,
             says: ["host-b/1-3 is attached to vm-2; a USB device serves one VM at a time"]),
        Case(name: "a VM with no bandwidth allocated cannot have anything forwarded",
             device: "host-b/1-4", change: { $0.vm("vm-1") { $0.networkMbps = 0 }; $0.host("host-b") { $0.memoryMiB = 1024 } },
             action: .reject, says: ["the VM has no network bandwidth allocated"]),
    ]

    @Test(arguments: cases)
    func decision(_ c: Case) throws {
        var cluster = PolicyWorld.attachBase()
        c.change(&cluster)
        let index = try PolicyWorld.throughFile(cluster)
        let decision = try AttachPlanner.decide(container: c.container, device: try #require(DeviceRef(c.device)), index)
        #expect(decision.action == c.action, "\(decision.reasons)")
        #expect(decision.targetHost == c.targetHost)
        #expect(!decision.reasons.isEmpty)
        for phrase in c.says {
            #expect(decision.reasons.contains { $0.contains(phrase) }, "missing '\(phrase)' in \(decision.reasons)")
        }
    }

    @Test func movingAVMCarriesItsOtherDevicesAsForwards() throws {
        var cluster = PolicyWorld.attachBase()
        cluster.vm("vm-1") { $0.devices = [DeviceRef(host: "host-c", id: "1-1")] }
        let decision = try AttachPlanner.decide(container: "cam-1", device: DeviceRef(host: "host-b", id: "1-3"), PolicyWorld.throughFile(cluster))
        #expect(decision.action == .migrate)
        #expect(decision.forwardedAfterMove == ["host-c/1-1"])
    }

    @Test func theRequiredAndAllocatedFiguresAreTheSpecs() throws {
        let decision = try AttachPlanner.decide(container: "cam-1", device: DeviceRef(host: "host-b", id: "1-3"),
                                                PolicyWorld.throughFile(PolicyWorld.attachBase()))
        #expect(decision.requiredBitsPerSecond == 197_416_000)
        #expect(decision.allocatedBitsPerSecond == 100_000_000)
    }

    @Test(arguments: [("nobody", "host-b/1-3", "no VM runs container 'nobody'"),
                      ("cam-1", "host-z/1-3", "host 'host-z' is not in the cluster"),
                      ("cam-1", "host-b/9-9", "host 'host-b' has no device '9-9'")])
    func unknownNamesAreClearErrors(_ container: String, _ device: String, _ message: String) throws {
        let index = try PolicyWorld.throughFile(PolicyWorld.attachBase())
        #expect {
            _ = try AttachPlanner.decide(container: container, device: try #require(DeviceRef(device)), index)
        } throws: { error in
            (error as? TetherError)?.message.contains(message) == true
        }
    }
}
