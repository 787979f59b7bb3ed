import Testing
import TetherModel
import TetherTestSupport

/// The cluster file is validated strictly: every problem named with its line, entry and key,
/// all of them at once, and nothing planned from a file that has one.
struct ClusterFileTests {
    static let host = """
          - name: host-a
            cpus: 8
            memoryMiB: 16384
            networks:
              management: {up: true, mbps: 1000}
            datastores: [ds1]
            devices:
              - {id: "1-3", vendorId: "046d", productId: "0825", periodicBytesPerSecond: 24677000}
        """
    static let vm = """
          - {name: vm-1, host: host-a, cpus: 2, memoryMiB: 2048, networkMbps: 100, datastore: ds1, containers: [c-1]}
        """

    static func file(hosts: String = host, vms: String = vm, extra: String = "") -> String {
        "hosts:\n\(hosts)\nvms:\n\(vms)\n\(extra)"
    }

    @Test func aGoodFileDecodesToTheValuesItStates() throws {
        let cluster = try ClusterFile.decode(Self.file(extra: "policy: {migrateThresholdPercent: 30}\n"))
        #expect(cluster.policy.migrateThresholdPercent == 30)
        #expect(cluster.hosts.first?.networks[.management] == NetworkLink(up: true, mbps: 1000))
        #expect(cluster.hosts.first?.networks[.migration] == nil, "a missing network is absent")
        #expect(cluster.hosts.first?.devices.first?.vendorId == "046d")
        #expect(cluster.hosts.first?.devices.first?.bulkBytesPerSecond == 0, "bulk defaults to 0")
        #expect(cluster.vms.first?.containers == ["c-1"])
        #expect(ClusterFile.encode(cluster).isEmpty == false)
    }

    @Test func policyDefaultsToFiftyPercent() throws {
        #expect(try ClusterFile.decode(Self.file()).policy.migrateThresholdPercent == 50)
    }

    @Test func jsonIsAcceptedToo() throws {
        let json = """
            {"hosts": [{"name": "h", "cpus": 4, "memoryMiB": 4096, "datastores": ["d"],
                        "networks": {"management": {"up": true, "mbps": 1000}}}],
             "vms": [{"name": "v", "host": "h", "cpus": 1, "memoryMiB": 512, "networkMbps": 10, "datastore": "d"}]}
            """
        let cluster = try ClusterFile.decode(json)
        #expect(cluster.hosts.map(\.name) == ["h"])
        #expect(cluster.vms.first?.networkMbps == 10)
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var says: [String]
        var testDescription: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "unknown top-level key", text: file(extra: "hostz: []\n"), says: ["top level: unknown key 'hostz'"]),
        Bad(name: "unknown key in a host", text: file(hosts: host + "\n    gpus: 2"), says: ["line 10: host 'host-a': unknown key 'gpus'"]),
        Bad(name: "unknown network", text: file(hosts: host.replacingOccurrences(of: "management:", with: "mgmt:")),
            says: ["host 'host-a': unknown key 'mgmt'"]),
        Bad(name: "unknown key in a VM", text: file(vms: vm.replacingOccurrences(of: "containers", with: "container")),
            says: ["vm 'vm-1': unknown key 'container'"]),
        Bad(name: "negative number", text: file(hosts: host.replacingOccurrences(of: "cpus: 8", with: "cpus: -8")),
            says: ["line 3: host 'host-a': cpus must not be negative (it is -8)"]),
        Bad(name: "missing number", text: file(vms: vm.replacingOccurrences(of: "networkMbps: 100, ", with: "")),
            says: ["vm 'vm-1': missing 'networkMbps'"]),
        Bad(name: "a number that is text", text: file(hosts: host.replacingOccurrences(of: "memoryMiB: 16384", with: "memoryMiB: lots")),
            says: ["memoryMiB must be a whole number, not 'lots'"]),
        Bad(name: "a fractional number", text: file(hosts: host.replacingOccurrences(of: "cpus: 8", with: "cpus: 1.5")),
            says: ["cpus must be a whole number, not '1.5'"]),
        Bad(name: "duplicate host", text: file(hosts: host + "\n" + host), says: ["host 'host-a': the name is used by another host too"]),
        Bad(name: "duplicate VM", text: file(vms: vm + "\n" + vm.replacingOccurrences(of: "c-1", with: "c-2")),
            says: ["vm 'vm-1': the name is used by another vm too"]),
        Bad(name: "VM on an unknown host", text: file(vms: vm.replacingOccurrences(of: "host: host-a", with: "host: host-z")),
            says: ["line 11: vm 'vm-1': host 'host-z' is not in the file"]),
        Bad(name: "dangling datastore", text: file(vms: vm.replacingOccurrences(of: "datastore: ds1", with: "datastore: ds9")),
            says: ["datastore 'ds9' is not listed by any host"]),
        Bad(name: "device that does not exist", text: file(vms: vm.replacingOccurrences(of: "containers: [c-1]", with: "devices: [host-a/9-9]")),
            says: ["device 'host-a/9-9' does not exist"]),
        Bad(name: "device written wrong", text: file(vms: vm.replacingOccurrences(of: "containers: [c-1]", with: "devices: [1-3]")),
            says: ["device '1-3' must be written HOST/ID"]),
        Bad(name: "device attached to two VMs",
            text: file(vms: vm.replacingOccurrences(of: "containers: [c-1]", with: "devices: [host-a/1-3]") + "\n"
                + vm.replacingOccurrences(of: "vm-1", with: "vm-2").replacingOccurrences(of: "containers: [c-1]", with: "devices: [host-a/1-3]")),
            says: ["device 'host-a/1-3' is attached to vm 'vm-1' too"]),
        Bad(name: "container in two VMs", text: file(vms: vm + "\n" + vm.replacingOccurrences(of: "vm-1", with: "vm-2")),
            says: ["container 'c-1' is in vm 'vm-1' too"]),
        Bad(name: "duplicate device id on a host",
            text: file(hosts: host + "\n      - {id: \"1-3\", periodicBytesPerSecond: 1}"), says: ["device id '1-3' appears twice on this host"]),
        Bad(name: "vendor id that is not hex", text: file(hosts: host.replacingOccurrences(of: "\"046d\"", with: "\"logi\"")),
            says: ["vendorId must be four hex digits"]),
        Bad(name: "rule naming an unknown VM", text: file(extra: "rules:\n  - {kind: anti-affinity, vms: [vm-1, vm-9]}\n"),
            says: ["rules[0]: vm 'vm-9' is not in the file"]),
        Bad(name: "rule of unknown kind", text: file(extra: "rules:\n  - {kind: affinity, vms: [vm-1]}\n"),
            says: ["rules[0]: unknown kind 'affinity'"]),
        Bad(name: "vm-host rule naming an unknown host", text: file(extra: "rules:\n  - {kind: vm-host, vm: vm-1, hosts: [host-q], must: true}\n"),
            says: ["rules[0]: host 'host-q' is not in the file"]),
        Bad(name: "threshold over 100", text: file(extra: "policy: {migrateThresholdPercent: 150}\n"),
            says: ["migrateThresholdPercent must be at most 100"]),
        Bad(name: "a VM named like a host", text: file(vms: vm.replacingOccurrences(of: "name: vm-1", with: "name: host-a")),
            says: ["a host has this name too"]),
        Bad(name: "duplicate key", text: file(hosts: host + "\n    cpus: 4"), says: ["line 3: key 'cpus' appears twice"]),
        Bad(name: "not YAML at all", text: "hosts: [unclosed\n", says: ["not YAML or JSON"]),
        Bad(name: "empty file", text: "", says: ["the file is empty"]),
        Bad(name: "several problems at once",
            text: file(hosts: host.replacingOccurrences(of: "cpus: 8", with: "cpus: -1"), vms: vm.replacingOccurrences(of: "host: host-a", with: "host: nope")),
            says: ["cpus must not be negative", "host 'nope' is not in the file"]),
    ]

    @Test(arguments: bad)
    func badFilesAreRefusedWithTheirReasons(_ c: Bad) {
        do {
            _ = try ClusterFile.decode(c.text, name: "bad.yaml")
            Issue.record("\(c.name): the file was accepted")
        } catch {
            let text = error.description
            #expect(text.hasPrefix("bad.yaml is not a valid cluster file"))
            for phrase in c.says { #expect(text.contains(phrase), "missing '\(phrase)' in:\n\(text)") }
        }
    }

    @Test func aClusterSurvivesTheRoundTripThroughItsFile() throws {
        let cluster = ClusterGenerator(hosts: 20, vmsPerHost: 5, downPercent: 10, rulePercent: 30).generate(seed: 7)
        #expect(try ClusterFile.decode(ClusterFile.encode(cluster)) == cluster)
    }
}
