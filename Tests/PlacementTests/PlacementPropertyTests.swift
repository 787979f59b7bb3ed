import Placement
import PropertyBased
import Testing
import TetherModel
import TetherTestSupport

/// Properties over generated clusters (2 to 10 hosts, networks down at random, rules): no plan
/// violates capacity, datastore access, a must rule or anti-affinity; the same input always
/// gives the same output; a VM is left unplaced only with a reason for every host.
struct PlacementPropertyTests {
    static func failures(_ cluster: Cluster) -> [Failure] {
        guard let host = cluster.hosts.first?.name else { return [] }
        var list: [Failure] = [.host(host, lost: []), .host(host, lost: [.storage]), .host(host, lost: [.management]),
                               .host(host, lost: [.migration, .vm]), .host(host, lost: [.management, .migration])]
        if let vm = cluster.vms.first?.name { list += [.ioPaths(vm: vm), .crash(vm: vm)] }
        return list
    }

    @Test func failoverPlansKeepEveryRule() async {
        await propertyCheck(count: 150, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...10), Gen.int(in: 1...6), Gen.int(in: 0...40)) {
            seed, hosts, perHost, down in
            let cluster = ClusterGenerator(hosts: hosts, vmsPerHost: perHost, downPercent: down, rulePercent: 40).generate(seed: UInt64(seed))
            let index = ClusterIndex(cluster)
            for failure in Self.failures(cluster) {
                guard let plan = try? FailoverPlanner.plan(failure, index) else {
                    Issue.record("seed \(seed): no plan for \(failure)")
                    continue
                }
                let problems = PlanChecker.violations(plan, cluster, failure)
                #expect(problems.isEmpty, "seed \(seed), \(hosts) hosts, \(failure): \(problems)")
            }
        }
    }

    @Test func theSameInputAlwaysGivesTheSameOutput() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...12)) { seed, hosts in
            let cluster = ClusterGenerator(hosts: hosts, vmsPerHost: 4, downPercent: 15, rulePercent: 40).generate(seed: UInt64(seed))
            // Two indexes, one from the values and one from the file: nothing may depend on
            // hashing order or on how the cluster was read.
            let first = ClusterIndex(cluster)
            guard let second = try? PolicyWorld.throughFile(cluster) else {
                Issue.record("seed \(seed): the generated cluster did not survive its file")
                return
            }
            for failure in Self.failures(cluster) {
                let a = try? FailoverPlanner.plan(failure, first), b = try? FailoverPlanner.plan(failure, second)
                #expect(a != nil && a == b, "seed \(seed), \(failure)")
            }
            for vm in cluster.vms.prefix(5) {
                guard let container = vm.containers.first else { continue }
                for host in cluster.hosts.prefix(3) {
                    for device in host.devices {
                        let ref = DeviceRef(host: host.name, id: device.id)
                        let a = try? AttachPlanner.decide(container: container, device: ref, first)
                        let b = try? AttachPlanner.decide(container: container, device: ref, second)
                        #expect(a != nil && a == b, "seed \(seed)")
                    }
                }
            }
        }
    }

    /// The attach table, checked from the figures: whatever the cluster, the action follows
    /// from required, allocated and threshold, and a migration goes only where the VM may run.
    @Test func attachDecisionsFollowTheTable() async {
        await propertyCheck(count: 100, input: Gen.int(in: 0...1_000_000), Gen.int(in: 2...10), Gen.int(in: 0...100)) { seed, hosts, threshold in
            var cluster = ClusterGenerator(hosts: hosts, vmsPerHost: 3, downPercent: 20, rulePercent: 40).generate(seed: UInt64(seed))
            cluster.policy.migrateThresholdPercent = threshold
            let index = ClusterIndex(cluster)
            let owners = Dictionary(cluster.vms.flatMap { vm in vm.devices.map { ($0, vm.name) } }, uniquingKeysWith: { a, _ in a })
            for vm in cluster.vms.prefix(4) {
                for host in cluster.hosts {
                    for device in host.devices {
                        let ref = DeviceRef(host: host.name, id: device.id)
                        guard let d = try? AttachPlanner.decide(container: vm.containers[0], device: ref, index) else {
                            Issue.record("seed \(seed): no decision")
                            continue
                        }
                        let required = device.requiredBitsPerSecond, allocated = vm.networkMbps * 1_000_000
                        #expect(!d.reasons.isEmpty)
                        if !host.isUp {
                            #expect(d.action == .reject, "seed \(seed): \(host.name) is down")
                        } else if let owner = owners[ref], owner != vm.name {
                            #expect(d.action == .reject, "seed \(seed): a device in use by \(owner)")
                        } else if host.name == vm.host {
                            #expect(d.action == .local)
                        } else if d.action == .migrate {
                            #expect(required * 100 > threshold * allocated, "seed \(seed): migrated below the threshold")
                            let plan = FailoverPlan(moves: [.init(vm: vm.name, from: vm.host, targetHost: host.name, mode: .live,
                                                                  via: "migration", reasons: [])], unplaced: [], notes: [])
                            #expect(PlanChecker.violations(plan, cluster, .ioPaths(vm: vm.name)).isEmpty, "seed \(seed)")
                        } else {
                            #expect(d.action == (required <= allocated ? .forward : .reject), "seed \(seed): \(d.reasons)")
                        }
                    }
                }
            }
        }
    }

    @Test func clustersSurviveTheirFile() async {
        await propertyCheck(count: 40, input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...15)) { seed, hosts in
            let cluster = ClusterGenerator(hosts: hosts, vmsPerHost: 3, downPercent: 20, rulePercent: 50).generate(seed: UInt64(seed))
            #expect((try? ClusterFile.decode(ClusterFile.encode(cluster))) == cluster, "seed \(seed)")
        }
    }
}
