import Glibc
import Logging

/// tetherd's log lines, to standard error, as swift-log's `StreamLogHandler` writes them
/// (`TIME LEVEL LABEL: key=value ... [SOURCE] MESSAGE`), with one difference: the metadata is
/// formatted when a line is written, not whenever it is set. Hummingbird sets a request id on
/// every request's logger, and `StreamLogHandler` formatted the logger's whole metadata then,
/// logged or not: 4% of the controller's time on a dry-run decision.
public struct TetherLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: @Sendable (String) -> Void

    public init(label: String) {
        self.init(label: label, sink: Self.standardError)
    }

    /// Lines to `sink` instead of standard error (the tests).
    init(label: String, sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.sink = sink
        metadataProvider = LoggingSystem.metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        if let error = event.error {
            all["error.message"] = "\(error)"
            all["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let pairs = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        sink("\(Self.timestamp()) \(event.level)\(label.isEmpty ? "" : " ")\(label):\(pairs.isEmpty ? "" : " " + pairs) "
             + "[\(event.source)] \(event.message)\n")
    }

    /// One write per line: lines of concurrent tasks never interleave.
    private static func standardError(_ line: String) {
        let bytes = Array(line.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            written += n
        }
    }

    /// Local time with its offset, as `StreamLogHandler` prints it: 2026-12-04T20:31:07+0000.
    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
