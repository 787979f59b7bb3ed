import Foundation

extension ClusterFile {
    /// Writes a cluster as a cluster file that `decode` reads back to the same value: one
    /// entry per host with its networks and devices, one line per VM and rule.
    public static func encode(_ cluster: Cluster) -> String {
        var out = "policy:\n  migrateThresholdPercent: \(cluster.policy.migrateThresholdPercent)\nhosts:\n"
        for host in cluster.hosts {
            out += "  - name: \(quoted(host.name))\n    cpus: \(host.cpus)\n    memoryMiB: \(host.memoryMiB)\n"
            if !host.networks.isEmpty {
                out += "    networks:\n"
                for role in NetworkRole.allCases {
                    if let link = host.networks[role] { out += "      \(role.rawValue): {up: \(link.up), mbps: \(link.mbps)}\n" }
                }
            }
            if !host.datastores.isEmpty { out += "    datastores: \(list(host.datastores))\n" }
            if !host.devices.isEmpty {
                out += "    devices:\n"
                for d in host.devices {
                    var fields = ["id: \(quoted(d.id))"]
                    if let v = d.vendorId { fields.append("vendorId: \(quoted(v))") }
                    if let p = d.productId { fields.append("productId: \(quoted(p))") }
                    fields += ["periodicBytesPerSecond: \(d.periodicBytesPerSecond)", "bulkBytesPerSecond: \(d.bulkBytesPerSecond)"]
                    out += "      - {\(fields.joined(separator: ", "))}\n"
                }
            }
        }
        out += "vms:\n"
        for vm in cluster.vms {
            var fields = ["name: \(quoted(vm.name))", "host: \(quoted(vm.host))", "cpus: \(vm.cpus)", "memoryMiB: \(vm.memoryMiB)",
                          "networkMbps: \(vm.networkMbps)", "datastore: \(quoted(vm.datastore))"]
            if !vm.containers.isEmpty { fields.append("containers: \(list(vm.containers))") }
            if !vm.devices.isEmpty { fields.append("devices: \(list(vm.devices.map(\.description)))") }
            out += "  - {\(fields.joined(separator: ", "))}\n"
        }
        if !cluster.rules.isEmpty {
            out += "rules:\n"
            for rule in cluster.rules {
                switch rule {
                case .vmHost(let vm, let hosts, let must):
                    out += "  - {kind: vm-host, vm: \(quoted(vm)), hosts: \(list(hosts)), must: \(must)}\n"
                case .antiAffinity(let vms):
                    out += "  - {kind: anti-affinity, vms: \(list(vms))}\n"
                }
            }
        }
        return out
    }

    /// Double-quoted, so that names like `yes`, `1-3` or `046d` stay text.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func list(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ", ") + "]" }
}
