import Hypervisor
import TetherModel
import TetherSystem

/// Makes and removes a lab's namespaces and links (`LabLayout`): a bridge per network, in the
/// controller's namespace for management, migration and VM networks and in the storage
/// namespace for the two storage paths, and in each host namespace one veth end per network,
/// named as the spec says. Bridges live in namespaces the lab owns, so nothing of the machine's
/// own networking is touched.
public struct LabNetwork: Sendable {
    public let layout: LabLayout

    public init(_ layout: LabLayout) { self.layout = layout }

    public var namespaces: [String] {
        [LabLayout.controllerNamespace, LabLayout.storageNamespace] + layout.hosts.map(LabLayout.namespace(of:))
    }

    /// Makes everything; on failure, removes what it made.
    public func create() throws(TetherError) {
        do {
            for ns in namespaces {
                try ip(["netns", "add", ns])
                try ip(["-n", ns, "link", "set", "lo", "up"])
            }
            for bridge in Set(LabLayout.links.map { "\($0.bridgeNamespace) \($0.bridge)" }).sorted() {
                let parts = bridge.split(separator: " ").map(String.init)
                try ip(["-n", parts[0], "link", "add", parts[1], "type", "bridge"])
                try ip(["-n", parts[0], "link", "set", parts[1], "up"])
            }
            try ip(["-n", LabLayout.controllerNamespace, "addr", "add", "\(LabLayout.controllerAddress)/24", "dev", "br-mgmt"])
            for (path, subnet) in [83, 84].enumerated() {
                try ip(["-n", LabLayout.storageNamespace, "addr", "add", "10.\(subnet).0.1/24", "dev", "br-st\(path)"])
            }
            for (i, host) in layout.hosts.enumerated() {
                let ns = LabLayout.namespace(of: host)
                for link in LabLayout.links {
                    let peer = "h\(i)-\(link.interface)"
                    try ip(["link", "add", link.interface, "netns", ns, "type", "veth", "peer", "name", peer, "netns", link.bridgeNamespace])
                    try ip(["-n", link.bridgeNamespace, "link", "set", peer, "master", link.bridge])
                    try ip(["-n", link.bridgeNamespace, "link", "set", peer, "up"])
                    try ip(["-n", ns, "addr", "add", "\(LabLayout.address(subnet: link.subnet, hostIndex: i))/24", "dev", link.interface])
                    try ip(["-n", ns, "link", "set", link.interface, "up"])
                }
                // A dead storage path must be known in about 1.5 s, not after TCP's 15 retries
                // (minutes): tcp_retries2 is per namespace and applies to open connections
                // (shared/notes/qemu-storage-faults.md).
                try sysctl(ns, "net.ipv4.tcp_retries2", "2")
                // And an answer that never comes must be noticed too: a request the server
                // acknowledged, whose reply was lost with the link while the server gave up on
                // the connection, leaves nothing to retransmit, and QEMU waits (its `stop`
                // holding QMP) until keep-alive asks, after two hours by default.
                for (name, value) in StorageTimeouts.keepAlive { try sysctl(ns, name, value) }
            }
            // The server side too, so a cut-off host's sessions do not hold the server's slots.
            try sysctl(LabLayout.storageNamespace, "net.ipv4.tcp_retries2", "2")
        } catch {
            remove()
            throw error
        }
    }

    /// Removes every namespace of the lab (their links and bridges go with them).
    public func remove() {
        for ns in namespaces { try? ip(["netns", "del", ns]) }
    }

    /// Namespaces of a lab that exist now.
    public func existing() -> [String] {
        guard let result = try? ChildProcess.run(try Executable.find("ip", package: "iproute2"), ["netns", "list"]) else { return [] }
        let present = Set(result.output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        return namespaces.filter(present.contains)
    }

    private func sysctl(_ ns: String, _ key: String, _ value: String) throws(TetherError) {
        try ip(["netns", "exec", ns, "sysctl", "-q", "-w", "\(key)=\(value)"])
    }

    private func ip(_ arguments: [String]) throws(TetherError) {
        let result = try ChildProcess.run(try Executable.find("ip", package: "iproute2"), arguments)
        guard result.status == 0 else { throw TetherError(.io, "ip \(arguments.joined(separator: " ")): \(result.output)") }
    }
}
