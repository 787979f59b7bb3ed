import Foundation
import TetherModel
import TetherSystem

/// Who may call the controller's API on the local socket: root, and the members of the operator
/// and viewer groups (as numeric ids, resolved from names when the daemon starts). Over mutual
/// TLS, the caller's certificate says instead (`tether certs issue --role`).
public struct LocalAccess: Sendable, Equatable {
    public var operatorGroups: Set<UInt32>
    public var viewerGroups: Set<UInt32>

    /// Everyone who can open the socket operates: a controller whose socket's file mode is its
    /// only access control (tests, one-user machines).
    public static let socketFileOnly = LocalAccess(operatorGroups: [], viewerGroups: [], open: true)
    let open: Bool

    /// Everyone who connects views, nobody changes anything: the web listener bound to the
    /// loopback (`controller.web: 127.0.0.1:PORT`), where a browser has no certificate to show.
    public static let loopbackViewers = LocalAccess(operatorGroups: [], viewerGroups: [], open: false, everyone: .viewer, readOnly: true)
    /// The role of every caller on a listener that cannot tell callers apart.
    let everyone: CallerRole?

    /// The web listener over mutual TLS (`controller.web` off the loopback): a browser shows its
    /// client certificate to every page that asks, a hostile page's form posts included, so an
    /// operator's certificate counts as a viewer's there; changes go through `controller.listen`.
    public static let webViewers = LocalAccess(operatorGroups: [], viewerGroups: [], open: false, readOnly: true)
    /// Operators count as viewers and agents are refused: the web view's listeners.
    let readOnly: Bool

    public init(operatorGroups: Set<UInt32>, viewerGroups: Set<UInt32>) {
        self.init(operatorGroups: operatorGroups, viewerGroups: viewerGroups, open: false)
    }

    init(operatorGroups: Set<UInt32>, viewerGroups: Set<UInt32>, open: Bool, everyone: CallerRole? = nil, readOnly: Bool = false) {
        self.operatorGroups = operatorGroups
        self.viewerGroups = viewerGroups
        self.open = open
        self.everyone = everyone
        self.readOnly = readOnly
    }

    /// A certificate's role as this listener takes it.
    func capped(_ role: CallerRole) -> Result<CallerRole, TetherError> {
        guard readOnly else { return .success(role) }
        switch role {
        case .viewer, .operator: return .success(.viewer)
        case .agent: return .failure(TetherError(.permissionDenied, "the web view's listener serves viewers; agents speak to controller.listen"))
        }
    }

    /// A group by name or number; nil when the system has no such group.
    public static func groupID(_ text: String) -> UInt32? {
        if let number = UInt32(text) { return number }
        guard let entry = getgrnam(text) else { return nil }
        return entry.pointee.gr_gid
    }

    /// The role of a local caller with these ids, or why it has none.
    func role(uid: UInt32, groups: Set<UInt32>) -> Result<CallerRole, TetherError> {
        if !groups.isDisjoint(with: operatorGroups) { return .success(.operator) }
        if !groups.isDisjoint(with: viewerGroups) { return .success(.viewer) }
        let names = { (ids: Set<UInt32>) in ids.sorted().map { getgrgid($0).map { String(cString: $0.pointee.gr_name) } ?? "\($0)" } }
        return .failure(TetherError(.permissionDenied, "uid \(uid) is in none of the controller's groups (operators: "
                                    + "\(names(operatorGroups).joined(separator: ", ")); viewers: \(names(viewerGroups).joined(separator: ", ")))"))
    }

    /// A process's real and supplementary groups, from /proc (the caller's, by the pid the
    /// kernel gave at connect). nil when that pid no longer runs as `uid`: the caller went and
    /// its pid may be another user's now, whose groups must not count for it.
    static func groups(ofProcess pid: Int32, uid: UInt32) -> Set<UInt32>? {
        guard let status = ProcFile.text("/proc/\(pid)/status") else { return nil }
        let uids = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?
            .split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().compactMap { UInt32($0) } ?? []
        guard uids.count >= 2, uids[0] == uid || uids[1] == uid else { return nil }
        var ids = Set<UInt32>()
        for line in status.split(separator: "\n") where line.hasPrefix("Gid:") || line.hasPrefix("Groups:") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst()
            for field in (line.hasPrefix("Gid:") ? Array(fields.prefix(1)) : Array(fields)) { if let id = UInt32(field) { ids.insert(id) } }
        }
        return ids
    }
}
