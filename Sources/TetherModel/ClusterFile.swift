import Yams

/// The cluster file of shared/spec/placement.md: YAML, or JSON (which YAML contains).
public enum ClusterFile {
    /// Decodes and validates a cluster file; `name` is how messages refer to it.
    public static func decode(_ text: String, name: String = "cluster file") throws(ClusterFileError) -> Cluster {
        var reader = ClusterFileReader()
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ClusterFileError(file: name, problems: [parseProblem(error)])
        } catch {
            throw ClusterFileError(file: name, problems: [.init(line: nil, place: "", message: "not YAML or JSON: \(error)")])
        }
        guard let root else {
            throw ClusterFileError(file: name, problems: [.init(line: nil, place: "", message: "the file is empty; it needs hosts and vms")])
        }
        let cluster = read(root, &reader)
        if let cluster { validate(cluster, root, &reader) }
        guard reader.problems.isEmpty, let cluster else {
            throw ClusterFileError(file: name, problems: reader.problems)
        }
        return cluster
    }

    /// libyaml's complaint and its line, without the copy of the document Yams appends.
    static func parseProblem(_ error: YamlError) -> ClusterFileError.Problem {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            return .init(line: mark.line, place: "", message: "not YAML or JSON: \(what)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return .init(line: context.mark.line, place: "", message: "key \(keys) appears twice in one mapping")
        default:
            let text = "\(error)"
            return .init(line: nil, place: "", message: "not YAML or JSON: " + (text.components(separatedBy: "\nContext:").first ?? text))
        }
    }

    static func read(_ root: Node, _ r: inout ClusterFileReader) -> Cluster? {
        guard let top = r.mapping(root, "top level", allowed: ["policy", "hosts", "vms", "rules"], required: ["hosts", "vms"]) else {
            return nil
        }
        var policy = Policy()
        if let node = top["policy"], let fields = r.mapping(node, "policy", allowed: ["migrateThresholdPercent"]) {
            if let percent = r.count(fields["migrateThresholdPercent"], "policy", "migrateThresholdPercent") {
                if percent > 100 {
                    r.problem(fields["migrateThresholdPercent"], "policy", "migrateThresholdPercent must be at most 100 (it is \(percent))")
                } else {
                    policy.migrateThresholdPercent = percent
                }
            }
        }
        let hosts = (r.sequence(top["hosts"], "top level", "hosts") ?? []).enumerated().compactMap { readHost($1, $0, &r) }
        let vms = (r.sequence(top["vms"], "top level", "vms") ?? []).enumerated().compactMap { readVM($1, $0, &r) }
        let rules = (r.sequence(top["rules"], "top level", "rules") ?? []).enumerated().compactMap { readRule($1, $0, &r) }
        return Cluster(policy: policy, hosts: hosts, vms: vms, rules: rules)
    }

    /// How an entry is named in messages: by its name when it has a readable one, else by its
    /// position, so that even a problem with its keys points at the right entry.
    static func place(_ kind: String, _ list: String, _ index: Int, _ node: Node) -> String {
        if case .scalar(let name)? = node.mapping?[Node("name")], !name.string.isEmpty { return "\(kind) '\(name.string)'" }
        return "\(list)[\(index)]"
    }

    static func readHost(_ node: Node, _ index: Int, _ r: inout ClusterFileReader) -> ClusterHost? {
        let allowed = ["name", "cpus", "memoryMiB", "networks", "datastores", "devices"]
        let at = place("host", "hosts", index, node)
        guard let fields = r.mapping(node, at, allowed: allowed, required: ["name", "cpus", "memoryMiB"]) else { return nil }
        let name = r.string(fields["name"], at, "name")
        let cpus = r.count(fields["cpus"], at, "cpus")
        let memory = r.count(fields["memoryMiB"], at, "memoryMiB")
        var networks: [NetworkRole: NetworkLink] = [:]
        if let node = fields["networks"], let map = r.mapping(node, at, allowed: NetworkRole.allCases.map(\.rawValue)) {
            for (key, value) in map {
                guard let role = NetworkRole(rawValue: key),
                      let link = r.mapping(value, "\(at): networks.\(key)", allowed: ["up", "mbps"], required: ["up"]) else { continue }
                let up = r.bool(link["up"], at, "networks.\(key).up")
                let mbps = link["mbps"].map { r.count($0, at, "networks.\(key).mbps") } ?? 0
                if let up, let mbps { networks[role] = NetworkLink(up: up, mbps: mbps) }
            }
        }
        let datastores = r.strings(fields["datastores"], at, "datastores") ?? []
        var devices: [Device] = []
        for (i, deviceNode) in (r.sequence(fields["devices"], at, "devices") ?? []).enumerated() {
            let deviceAllowed = ["id", "vendorId", "productId", "periodicBytesPerSecond", "bulkBytesPerSecond"]
            guard let d = r.mapping(deviceNode, "\(at): devices[\(i)]", allowed: deviceAllowed, required: ["id", "periodicBytesPerSecond"]) else { continue }
            let devicePlace = "\(at): device '\(d["id"]?.string ?? "#\(i)")'"
            let id = r.string(d["id"], devicePlace, "id")
            let vendor = r.string(d["vendorId"], devicePlace, "vendorId")
            let product = r.string(d["productId"], devicePlace, "productId")
            for (key, value) in [("vendorId", vendor), ("productId", product)] {
                if let value, value.count != 4 || UInt16(value, radix: 16) == nil {
                    r.problem(d[key], devicePlace, "\(key) must be four hex digits, like \"046d\" (it is \"\(value)\")")
                }
            }
            let periodic = r.count(d["periodicBytesPerSecond"], devicePlace, "periodicBytesPerSecond")
            let bulk = d["bulkBytesPerSecond"].map { r.count($0, devicePlace, "bulkBytesPerSecond") } ?? 0
            if let id, let periodic, let bulk {
                if devices.contains(where: { $0.id == id }) {
                    r.problem(d["id"], at, "device id '\(id)' appears twice on this host")
                } else {
                    devices.append(Device(id: id, vendorId: vendor, productId: product, periodicBytesPerSecond: periodic, bulkBytesPerSecond: bulk))
                }
            }
        }
        guard let name, let cpus, let memory else { return nil }
        return ClusterHost(name: name, cpus: cpus, memoryMiB: memory, networks: networks, datastores: datastores, devices: devices)
    }

    static func readVM(_ node: Node, _ index: Int, _ r: inout ClusterFileReader) -> VM? {
        let allowed = ["name", "host", "cpus", "memoryMiB", "networkMbps", "datastore", "containers", "devices"]
        let at = place("vm", "vms", index, node)
        let required = ["name", "host", "cpus", "memoryMiB", "networkMbps", "datastore"]
        guard let fields = r.mapping(node, at, allowed: allowed, required: required) else { return nil }
        let name = r.string(fields["name"], at, "name")
        let host = r.string(fields["host"], at, "host")
        let cpus = r.count(fields["cpus"], at, "cpus")
        let memory = r.count(fields["memoryMiB"], at, "memoryMiB")
        let mbps = r.count(fields["networkMbps"], at, "networkMbps")
        let datastore = r.string(fields["datastore"], at, "datastore")
        let containers = r.strings(fields["containers"], at, "containers") ?? []
        var devices: [DeviceRef] = []
        for text in r.strings(fields["devices"], at, "devices") ?? [] {
            if let ref = DeviceRef(text) {
                devices.append(ref)
            } else {
                r.problem(fields["devices"], at, "device '\(text)' must be written HOST/ID, like host-b/1-3")
            }
        }
        guard let name, let host, let cpus, let memory, let mbps, let datastore else { return nil }
        return VM(name: name, host: host, cpus: cpus, memoryMiB: memory, networkMbps: mbps, datastore: datastore,
                  containers: containers, devices: devices)
    }

    static func readRule(_ node: Node, _ index: Int, _ r: inout ClusterFileReader) -> Rule? {
        let at = "rules[\(index)]"
        guard let fields = r.mapping(node, at, allowed: ["kind", "vm", "vms", "hosts", "must"], required: ["kind"]),
              let kind = r.string(fields["kind"], at, "kind") else { return nil }
        switch kind {
        case "vm-host":
            for key in ["vms"] where fields[key] != nil { r.problem(fields[key], at, "a vm-host rule takes 'vm', not '\(key)'") }
            for key in ["vm", "hosts"] where fields[key] == nil { r.problem(node, at, "a vm-host rule needs '\(key)'") }
            let vm = r.string(fields["vm"], at, "vm")
            let hosts = r.strings(fields["hosts"], at, "hosts")
            let must = fields["must"].map { r.bool($0, at, "must") } ?? false
            if let hosts, hosts.isEmpty { r.problem(fields["hosts"], at, "hosts must name at least one host") }
            guard let vm, let hosts, let must else { return nil }
            return .vmHost(vm: vm, hosts: hosts, must: must)
        case "anti-affinity":
            for key in ["vm", "hosts", "must"] where fields[key] != nil {
                r.problem(fields[key], at, "an anti-affinity rule takes only 'vms', not '\(key)'")
            }
            guard fields["vms"] != nil else {
                r.problem(node, at, "an anti-affinity rule needs 'vms'")
                return nil
            }
            guard let vms = r.strings(fields["vms"], at, "vms") else { return nil }
            if vms.count < 2 { r.problem(fields["vms"], at, "an anti-affinity rule needs at least two vms") }
            return .antiAffinity(vms: vms)
        default:
            r.problem(fields["kind"], at, "unknown kind '\(kind)' (known: vm-host, anti-affinity)")
            return nil
        }
    }
}
