import Foundation
import Logging
import TetherModel
import TetherSystem

/// The exporters this agent started, recorded as they start (`STATE/exporters`: a pid and its
/// start time per line, so a reused pid is never mistaken for one). Debian's usbredirect has no
/// parent-death guard, and an exporter outliving a killed agent keeps its claim on the USB device,
/// so a new export of it would fail. A starting agent stops the recorded exporters that still
/// run, and only those: an exporter it never started (an operator's, a systemd service) is not
/// its to stop.
public final class ExporterRecord: Sendable {
    public let path: String
    private let proc: String
    private let lock = NSLock()

    public init(directory: String, proc: String = "/proc") {
        self.path = "\(directory)/exporters"
        self.proc = proc
    }

    struct Entry: Equatable {
        var pid: Int32
        var startTime: String
    }

    /// Records a started exporter; entries of exporters that have gone are dropped on the way.
    public func note(_ pid: Int32) {
        guard let started = startTime(of: pid) else { return }
        lock.withLock {
            let live = entries().filter { startTime(of: $0.pid) == $0.startTime && $0.pid != pid }
            write(live + [Entry(pid: pid, startTime: started)])
        }
    }

    /// Stops every recorded exporter that still runs (a predecessor's), then forgets them all.
    @discardableResult
    public func stopLeftovers(logger: Logger) -> [Int32] {
        lock.withLock {
            var stopped: [Int32] = []
            for entry in entries() where startTime(of: entry.pid) == entry.startTime {
                kill(entry.pid, SIGTERM)
                stopped.append(entry.pid)
                logger.notice("stopped an exporter a previous agent left behind", metadata: ["pid": "\(entry.pid)", "record": "\(path)"])
            }
            write([])
            return stopped
        }
    }

    private func entries() -> [Entry] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 2, let pid = Int32(words[0]), pid > 0 else { return nil }
            return Entry(pid: pid, startTime: String(words[1]))
        }
    }

    private func write(_ entries: [Entry]) {
        let text = entries.map { "\($0.pid) \($0.startTime)\n" }.joined()
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// When the process started (clock ticks since boot); nil when it is gone or a zombie.
    private func startTime(of pid: Int32) -> String? {
        guard let stat = ProcessStat(pid: pid, proc: proc), stat.isAlive else { return nil }
        return String(stat.startTime)
    }
}
