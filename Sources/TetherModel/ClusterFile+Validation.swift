import Yams

extension ClusterFile {
    /// Checks what single entries cannot: unique names, and that every reference (a VM's host,
    /// datastore and devices, a rule's VMs and hosts) points at something that exists.
    static func validate(_ cluster: Cluster, _ root: Node, _ r: inout ClusterFileReader) {
        // Each entry's node by name, for the line of a problem: built once per list, because
        // looking entries up one by one would make validating a large file quadratic.
        var nodes: [String: [String: Node]] = [:]
        for list in ["hosts", "vms"] {
            for item in root.mapping?[Node(list)]?.sequence ?? [] {
                if case .scalar(let name)? = item.mapping?[Node("name")], nodes[list]?[name.string] == nil {
                    nodes[list, default: [:]][name.string] = item
                }
            }
        }
        func entry(_ list: String, _ name: String) -> Node? { nodes[list]?[name] }
        var hostNames = Set<String>()
        for host in cluster.hosts where !hostNames.insert(host.name).inserted {
            r.problem(entry("hosts", host.name), "host '\(host.name)'", "the name is used by another host too")
        }
        let datastores = Set(cluster.hosts.flatMap(\.datastores))
        var devicesByHost: [String: Set<String>] = [:]
        for host in cluster.hosts { devicesByHost[host.name, default: []].formUnion(host.devices.map(\.id)) }

        var vmNames = Set<String>()
        var containerOwner: [String: String] = [:]
        var deviceOwner: [DeviceRef: String] = [:]
        for vm in cluster.vms {
            let at = "vm '\(vm.name)'"
            let node = entry("vms", vm.name)
            if !vmNames.insert(vm.name).inserted { r.problem(node, at, "the name is used by another vm too") }
            if hostNames.contains(vm.name) {
                r.problem(node, at, "a host has this name too; `--fail \(vm.name)` could not tell them apart")
            }
            if !hostNames.contains(vm.host) { r.problem(node, at, "host '\(vm.host)' is not in the file") }
            if !datastores.contains(vm.datastore) { r.problem(node, at, "datastore '\(vm.datastore)' is not listed by any host") }
            for container in vm.containers {
                if let other = containerOwner[container], other != vm.name {
                    r.problem(node, at, "container '\(container)' is in vm '\(other)' too")
                }
                containerOwner[container] = vm.name
            }
            for device in vm.devices {
                if devicesByHost[device.host]?.contains(device.id) != true {
                    r.problem(node, at, "device '\(device)' does not exist (no such device on \(hostNames.contains(device.host) ? "that host" : "an unknown host"))")
                } else if let other = deviceOwner[device] {
                    r.problem(node, at, "device '\(device)' is attached to vm '\(other)' too; a USB device serves one VM at a time")
                }
                deviceOwner[device] = vm.name
            }
        }
        let ruleNodes = root.mapping?[Node("rules")]?.sequence.map(Array.init) ?? []
        for (i, rule) in cluster.rules.enumerated() {
            let node = i < ruleNodes.count ? ruleNodes[i] : nil
            switch rule {
            case .vmHost(let vm, let hosts, _):
                if !vmNames.contains(vm) { r.problem(node, "rules[\(i)]", "vm '\(vm)' is not in the file") }
                for host in hosts where !hostNames.contains(host) { r.problem(node, "rules[\(i)]", "host '\(host)' is not in the file") }
            case .antiAffinity(let vms):
                for vm in vms where !vmNames.contains(vm) { r.problem(node, "rules[\(i)]", "vm '\(vm)' is not in the file") }
            }
        }
    }
}
