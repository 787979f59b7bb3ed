import Foundation
import Logging
import TetherModel

/// Exporters a previous agent on this host started and did not stop (it was killed): Debian's
/// usbredirect has no parent-death guard, and an orphan keeps its claim on the USB device, so
/// that a new export of it would fail. A starting agent stops them: processes re-parented to
/// init whose command line is the exporter's, `PROGRAM ... --device D --as ADDRESS`. A live
/// agent's exporters have that agent as parent and are never touched.
enum OrphanedExporters {
    @discardableResult
    static func stop(program: String, logger: Logger, proc: String = "/proc") -> [Int32] {
        let name = (program as NSString).lastPathComponent
        var stopped: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: proc)) ?? [] {
            guard let pid = Int32(entry), pid != getpid(),
                  let stat = try? String(contentsOfFile: "\(proc)/\(entry)/stat", encoding: .utf8),
                  let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                  fields[0] != "Z", fields[1] == "1",
                  let raw = FileManager.default.contents(atPath: "\(proc)/\(entry)/cmdline") else { continue }
            let words = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard words.contains(where: { ($0 as NSString).lastPathComponent == name }),
                  words.contains("--device"), words.contains("--as") else { continue }
            kill(pid, SIGTERM)
            stopped.append(pid)
            logger.notice("stopped an exporter a previous agent left behind", metadata: ["pid": "\(pid)", "command": "\(words.joined(separator: " "))"])
        }
        return stopped
    }
}
