import Placement
import Testing
import TetherModel
import TetherTestSupport

/// A daemon changes its warm index in place as attachments come and go and VMs move; every
/// answer must be the one a fresh index of the changed cluster gives.
struct IncrementalIndexTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func inPlaceChangesAnswerLikeAFreshIndex(seed: UInt64) throws {
        let cluster = ClusterGenerator(hosts: 30, vmsPerHost: 4).generate(seed: seed)
        var index = ClusterIndex(cluster)
        var state = PlacementState(index)
        var rng = SplitMix64(seed: seed)
        let devices = cluster.hosts.flatMap { host in host.devices.map { DeviceRef(host: host.name, id: $0.id) } }
        try #require(!devices.isEmpty)
        for _ in 0..<40 {
            let device = devices[Int(rng.next() % UInt64(devices.count))]
            let vm = Int(rng.next() % UInt64(cluster.vms.count))
            switch rng.next() % 3 {
            case 0: index.setOwner(of: device, to: vm)
            case 1: index.setOwner(of: device, to: nil)
            default:
                let host = Int(rng.next() % UInt64(cluster.hosts.count))
                state.move(vm, to: host, index)
                index.relocate(vm, to: host)
            }
        }
        let fresh = ClusterIndex(index.cluster)
        let freshState = PlacementState(fresh)
        #expect(state.freeCPUs == freshState.freeCPUs && state.freeMemoryMiB == freshState.freeMemoryMiB && state.vmHost == freshState.vmHost)
        for vm in index.cluster.vms.prefix(40) {
            guard let container = vm.containers.first else { continue }
            for device in devices.prefix(10) {
                let warm = try AttachPlanner.decide(container: container, device: device, index, state: state)
                let cold = try AttachPlanner.decide(container: container, device: device, fresh, state: freshState)
                #expect(warm == cold, "\(container) + \(device)")
            }
        }
    }
}
