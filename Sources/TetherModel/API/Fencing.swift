/// What a host does with its VMs when it finds itself isolated (shared/spec/ha.md, fencing): no
/// peer on any network, no path to any datastore, no controller.
public enum IsolationResponse: String, Sendable, Equatable, Codable, CaseIterable {
    /// Pause them: no more writes, memory kept; resumed if the cluster did not restart them.
    case pause
    /// Quit them: the cluster restarts them from their disks.
    case powerOff = "power-off"
    /// Leave them running. The cluster then never restarts them elsewhere on its own: nothing
    /// would stop the isolated copy writing to the same disk.
    case none
}

/// A host's fencing, as it registers it: the controller restarts the VMs of a host gone silent
/// only once the host has stopped them itself, after `deadlineSeconds` from its last contact.
public struct FencingPolicy: Sendable, Equatable, Codable {
    public var response: IsolationResponse
    /// From the host's last contact with the cluster to its VMs stopped, at the latest.
    public var deadlineSeconds: Double

    public init(response: IsolationResponse, deadlineSeconds: Double) {
        self.response = response
        self.deadlineSeconds = deadlineSeconds
    }

    /// Whether the host stops its VMs when isolated, so that they may be restarted elsewhere.
    public var fences: Bool { response != .none }
}
