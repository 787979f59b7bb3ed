import Foundation
import TetherModel

/// The cluster model the placement engine decides on, assembled from what the agents
/// registered, the attachments in force, and which hosts still heartbeat. Pure: the same
/// inputs give the same cluster.
public enum ClusterAssembly {
    public static func cluster(registrations: [AgentRegistration], attachments: [DeviceAttachment], downHosts: Set<String>,
                               policy: Policy) -> Cluster {
        let sorted = registrations.sorted { $0.host < $1.host }
        let devicesOf = Dictionary(grouping: attachments, by: \.vm).mapValues { $0.map(\.device).sorted() }
        var hosts: [ClusterHost] = []
        hosts.reserveCapacity(sorted.count)
        // A VM reported by two agents (mid-migration, or after a crash) counts where it runs.
        var placed: [String: VM] = [:]
        for r in sorted {
            var networks = r.networks
            if downHosts.contains(r.host) {
                // No heartbeat: the controller cannot reach it, whatever it last said.
                networks[.management] = NetworkLink(up: false, mbps: networks[.management]?.mbps ?? 0)
            }
            hosts.append(ClusterHost(name: r.host, cpus: r.cpus, memoryMiB: r.memoryMiB, networks: networks, datastores: r.datastores,
                                     devices: r.devices.map {
                                         Device(id: $0.id, vendorId: $0.vendorId, productId: $0.productId,
                                                periodicBytesPerSecond: $0.periodicBytesPerSecond, bulkBytesPerSecond: $0.bulkBytesPerSecond)
                                     }))
            // Only a copy that occupies its host places the VM: the stopped end of a migration
            // does not (a fenced host that comes back reads in this where its VMs run).
            for v in r.vms where v.status.occupiesHost && placed[v.name] == nil {
                placed[v.name] = VM(name: v.name, host: r.host, cpus: v.cpus, memoryMiB: v.memoryMiB, networkMbps: v.networkMbps,
                                    datastore: v.datastore, containers: v.containers, devices: devicesOf[v.name] ?? [])
            }
        }
        let vms = placed.values.sorted { $0.name < $1.name }
        return Cluster(policy: policy, hosts: hosts, vms: vms, rules: [])
    }
}
