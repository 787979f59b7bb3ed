import Foundation
import TetherModel

/// The state a runtime hands a hook on stdin (OCI runtime-spec, "State"): what the hook needs
/// of it. Decoded strictly: a state without an id, or with a malformed annotation map, is an
/// error that says so, never a silent "no devices asked".
public struct ContainerState: Sendable, Equatable, Decodable {
    public var ociVersion: String
    public var id: String

    /// The container as Tether names it: its id, or for a runtime's 64-digit hex id (podman,
    /// CRI-O) the 12 digits those tools show, since a name travels in paths and sessions and
    /// may be 63 characters at most.
    public var container: String {
        if id.utf8.count > 63, id.allSatisfy(\.isHexDigit) { return String(id.prefix(12)) }
        return id
    }
    public var status: String
    public var pid: Int32?
    public var bundle: String
    public var annotations: [String: String]

    enum CodingKeys: String, CodingKey { case ociVersion, id, status, pid, bundle, annotations }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ociVersion = try c.decode(String.self, forKey: .ociVersion)
        id = try c.decode(String.self, forKey: .id)
        status = try c.decode(String.self, forKey: .status)
        pid = try c.decodeIfPresent(Int32.self, forKey: .pid)
        bundle = try c.decode(String.self, forKey: .bundle)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
    }

    public init(ociVersion: String = "1.0.2", id: String, status: String = "created", pid: Int32?, bundle: String,
                annotations: [String: String] = [:]) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
    }

    /// At most 1 MiB: a runtime's state is a few hundred bytes.
    public static func parse(_ data: Data) throws(TetherError) -> ContainerState {
        guard data.count <= 1 << 20 else { throw TetherError(.invalidArgument, "malformed container state: more than 1 MiB on stdin") }
        guard !data.isEmpty else { throw TetherError(.invalidArgument, "malformed container state: nothing on stdin (is this run as an OCI hook?)") }
        do {
            return try JSONDecoder().decode(ContainerState.self, from: data)
        } catch {
            throw TetherError(.invalidArgument, "malformed container state: \(APIJSON.describe(error))")
        }
    }
}
