import Foundation
import TetherModel

/// The cluster view each agent keeps for the time the controller is out of its reach.
extension Controller {
    /// How old a view may be before a heartbeat makes it again: every heartbeat of every host
    /// asks, and assembling the cluster is linear in its size.
    static let viewLifetime: TimeInterval = 0.5

    /// The measured cluster as a cluster file, with every registered host's addresses.
    func currentView() -> ClusterView {
        let at = now()
        if let pushed = pushedView, at.timeIntervalSince(pushed.at) < Self.viewLifetime, at >= pushed.at { return pushed.view }
        let hosts = registrations.values.sorted { $0.host < $1.host }.map { r in
            PeerHost(host: r.host, addresses: r.networks.compactMapValues(\.address), agentPort: r.agentAddress.port)
        }
        let view = ClusterView(cluster: ClusterFile.encode(measuredCluster()), hosts: hosts)
        pushedView = (at, view)
        return view
    }
}
