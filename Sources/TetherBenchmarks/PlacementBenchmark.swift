import ArgumentParser
import Foundation
import Placement
import TetherModel
import TetherTestSupport

/// Attach decisions and failover plans on generated clusters of growing size.
struct PlacementBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "placement",
                                                    abstract: "Attach decision and 200-VM failover plan on 10 to 10,000 hosts.")

    @Option(parsing: .upToNextOption, help: "Cluster sizes in hosts.") var hosts: [Int] = [10, 1_000, 10_000]
    @Option(help: "VMs per host.") var vmsPerHost = 10
    @Option(help: "Timed runs of each measurement.") var runs = 50

    func run() throws {
        print("hosts   vms      index build (ms)  attach decision (us)  cold attach (ms)  failover, 200 VMs (ms)  per host (us)  peak RSS (MB)")
        for size in hosts {
            var cluster = ClusterGenerator(hosts: size, vmsPerHost: vmsPerHost).generate(seed: 42)
            // One big host carrying 200 VMs: the failover to plan. It sits last in name order, so
            // it is not favoured by ties.
            let big = ClusterHost(name: "host-zz-big", cpus: 4096, memoryMiB: 200 * 4096 + 1024, networks: cluster.hosts[0].networks,
                                  datastores: cluster.hosts[0].datastores, devices: [])
            cluster.hosts.append(big)
            for k in 0..<200 {
                cluster.vms.append(VM(name: "big-\(k)", host: big.name, cpus: 2, memoryMiB: 4096, networkMbps: 1000,
                                      datastore: big.datastores[k % 2], containers: ["big-c-\(k)"]))
            }
            // The attach to decide: a webcam on one host for a container whose VM is elsewhere.
            let camHost = cluster.hosts.indices.first { i in cluster.hosts[i].devices.contains { $0.periodicBytesPerSecond > 1_000_000 } } ?? 0
            let camID = cluster.hosts[camHost].devices.first { $0.periodicBytesPerSecond > 1_000_000 }?.id ?? "1-1"
            if cluster.hosts[camHost].devices.isEmpty {
                cluster.hosts[camHost].devices = [Device(id: camID, periodicBytesPerSecond: 24_677_000)]
            }
            // A 100 Mbit/s VM: the webcam's 197 Mbit/s wants a migration, so the filters run.
            let requester = cluster.vms.firstIndex {
                $0.host != cluster.hosts[camHost].name && $0.devices.isEmpty && $0.networkMbps == 100
            } ?? 0
            let container = cluster.vms[requester].containers[0]
            let device = DeviceRef(host: cluster.hosts[camHost].name, id: camID)

            let indexTimes = try measure(runs: max(3, runs / 10)) { _ = ClusterIndex(cluster) }
            let index = ClusterIndex(cluster)
            let state = PlacementState(index)
            var decision: AttachDecision?
            let attachTimes = try measure(runs: runs * 20) {
                decision = try AttachPlanner.decide(container: container, device: device, index, state: state)
            }
            // Cold: what a one-off `tether plan` pays on top of the index, building the state too.
            let coldTimes = try measure(runs: max(3, runs / 5)) {
                _ = try AttachPlanner.decide(container: container, device: device, index)
            }
            var plan: FailoverPlan?
            let failoverTimes = try measure(runs: runs) { plan = try FailoverPlanner.plan(.host(big.name, lost: [.management]), index) }
            guard let decision, let plan, plan.moves.count + plan.unplaced.count == 200 else {
                throw ValidationError("the benchmark's questions were not answered")
            }
            let failover = median(failoverTimes)
            print(pad("\(cluster.hosts.count)", 8) + pad("\(cluster.vms.count)", 9) + pad(fixed(median(indexTimes)), 18)
                  + pad(fixed(median(attachTimes) * 1000, 1) + " (\(decision.action.rawValue))", 22)
                  + pad(fixed(median(coldTimes), 3), 18)
                  + pad(fixed(failover) + " (\(plan.moves.count) moved)", 24)
                  + pad(fixed(failover * 1000 / Double(cluster.hosts.count), 3), 15) + fixed(peakResidentMB(), 0))
        }
    }

    func measure(runs: Int, _ body: () throws -> Void) throws -> [Double] {
        var samples: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return samples
    }

    func peakResidentMB() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024   // Linux reports kilobytes
    }
}

/// Writes a generated cluster file (the large sample is made this way).
struct GenerateCluster: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate-cluster", abstract: "Print a generated cluster file.")
    @Option var hosts = 100
    @Option var vmsPerHost = 10
    @Option var seed: UInt64 = 1
    @Option(help: "Chance in percent that a network is down.") var downPercent = 2

    func run() throws {
        let cluster = ClusterGenerator(hosts: hosts, vmsPerHost: vmsPerHost, downPercent: downPercent).generate(seed: seed)
        print("# Generated by `tether-benchmark generate-cluster --hosts \(hosts) --vms-per-host \(vmsPerHost) --seed \(seed) --down-percent \(downPercent)`")
        print(ClusterFile.encode(cluster), terminator: "")
    }
}
