/// Everything wrong with a cluster file, each problem with its line and the entry it concerns.
/// Nothing is planned from a file that has any.
public struct ClusterFileError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var line: Int?
        /// The entry and key: `host 'host-b': networks.migration.mbps`.
        public var place: String
        public var message: String

        public var description: String {
            (line.map { "line \($0): " } ?? "") + (place.isEmpty ? "" : "\(place): ") + message
        }
    }

    public var file: String
    public var problems: [Problem]

    public var description: String {
        "\(file) is not a valid cluster file:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }

    /// Exit status for a file that does not validate (shared/spec/placement.md).
    public static let exitStatus: Int32 = 2
}
