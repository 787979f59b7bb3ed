/// Who may do what on the controller's API. Over mutual TLS, the role comes from the caller's
/// certificate (`tether certs issue --role`); on the local socket, from the caller's groups.
public enum CallerRole: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads status, events and operations.
    case viewer
    /// A viewer that also attaches and detaches devices.
    case `operator`
    /// A host's agent: registers its host, heartbeats, reports its faults and moves (for its own
    /// host only); reads nothing else.
    case agent

    /// What a route needs: the roles that may call it.
    public enum Need: Sendable, Equatable {
        case read, change, agent
    }

    public func may(_ need: Need) -> Bool {
        switch need {
        case .read: self == .viewer || self == .operator
        case .change: self == .operator
        case .agent: self == .agent
        }
    }

    /// "operator", "viewer", ... for a refusal's reason.
    public static func allowed(for need: Need) -> String {
        allCases.filter { $0.may(need) }.map(\.rawValue).joined(separator: " or ")
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
