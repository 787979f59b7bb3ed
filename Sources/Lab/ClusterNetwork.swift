import TetherModel
import TetherSystem

/// Three hosts' network on one machine: a controller's namespace routing between two hosts'
/// namespaces, host-a on 10.77.1.0/30 and host-b on 10.77.2.0/30 (each host is .2, its gateway
/// the controller's .1). What `tether demo` and the end-to-end tests run a cluster in.
public struct ClusterNetwork: Sendable {
    public let tag: String
    /// controller, host-a, host-b.
    public var namespaces: [String] { ["tc-\(tag)", "ta-\(tag)", "tb-\(tag)"] }

    public init(tag: String) { self.tag = tag }

    /// Makes the namespaces, links and routes; on failure, removes what it made.
    public func create() throws(TetherError) {
        let (c, a, b) = (namespaces[0], namespaces[1], namespaces[2])
        do {
            for ns in namespaces { try ip(["netns", "add", ns]) }
            for (peer, subnet) in [(a, 1), (b, 2)] {
                let here = "c\(subnet)\(tag)", there = "h\(subnet)\(tag)"
                try ip(["link", "add", here, "type", "veth", "peer", "name", there])
                try ip(["link", "set", here, "netns", c])
                try ip(["link", "set", there, "netns", peer])
                try ip(["-n", c, "addr", "add", "10.77.\(subnet).1/30", "dev", here])
                try ip(["-n", peer, "addr", "add", "10.77.\(subnet).2/30", "dev", there])
                try ip(["-n", c, "link", "set", here, "up"])
                try ip(["-n", peer, "link", "set", there, "up"])
                try ip(["-n", peer, "route", "add", "default", "via", "10.77.\(subnet).1"])
            }
            for ns in namespaces { try ip(["-n", ns, "link", "set", "lo", "up"]) }
            try ip(["netns", "exec", c, "/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
        } catch {
            remove()
            throw error
        }
    }

    /// Host `1` (host-a) or `2` (host-b)'s agent configuration in this network: the controller
    /// at its gateway, everything else of the host under `directory`, its VMs given as YAML list
    /// items, and `extra` agent keys (each an indented `key: value` line).
    public static func agentConfiguration(host: String, subnet: Int, directory: String, exporter: String, heartbeatSeconds: Double,
                                          vms: [String], extra: [String] = []) -> String {
        """
        role: agent
        agent:
          host: \(host)
          controller: 10.77.\(subnet).1:7400
          listen: 10.77.\(subnet).2:7401
          publicAddress: 10.77.\(subnet).2
          tls: {directory: \(directory)/pki}
          cpus: 4
          memoryMiB: 4096
          networks:
            management: {up: true, mbps: 1000}
            migration: {up: true, mbps: 10000}
            vm: {up: true, mbps: 1000}
            storage: {up: true, mbps: 10000}
          datastores: [ds1]
          stateDirectory: \(directory)/\(host)
          imageDirectories: [\(directory)/images]
          exporter: \(exporter)
          heartbeatSeconds: \(heartbeatSeconds)
          stopVMsOnExit: true
          eventsSocket: \(directory)/\(host)-events.sock

        """ + extra.map { "  \($0)\n" }.joined() + "  vms:\n" + vms.map { "    - \($0)\n" }.joined()
    }

    public func remove() {
        for ns in namespaces { try? ip(["netns", "del", ns]) }
    }

    private func ip(_ arguments: [String]) throws(TetherError) {
        let result = try ChildProcess.run(try Executable.find("ip", package: "iproute2"), arguments)
        guard result.status == 0 else { throw TetherError(.io, "ip \(arguments.joined(separator: " ")): \(result.output)") }
    }
}
