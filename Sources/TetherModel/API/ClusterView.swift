/// The controller's view of the cluster, pushed to every agent with its heartbeat replies as it
/// changes: what a host needs to place its own VMs when the controller is out of its reach
/// (management network lost, shared/spec/ha.md). The cluster travels as a cluster file, the
/// same text `tether plan` reads, so an operator can replay an agent's decision from the copy
/// it keeps (`stateDirectory/cluster-view.yaml`).
public struct ClusterView: Sendable, Equatable, Codable {
    /// Names this view: the agent sends it back, and gets the view again only when it changed.
    public var digest: String
    /// The cluster as measured (networks judged down are down), as a cluster file.
    public var cluster: String
    /// Every registered host with its addresses and agent port.
    public var hosts: [PeerHost]

    public init(cluster: String, hosts: [PeerHost]) {
        self.cluster = cluster
        self.hosts = hosts
        digest = Self.digest(cluster + hosts.map { "\($0.host) \($0.addresses.sorted { $0.key < $1.key }) \($0.agentPort ?? 0)" }.joined())
    }

    /// FNV-1a, 64 bits, hex: a name that changes with the text (not a security measure; the view
    /// comes over mutual TLS from the controller).
    static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
