import Foundation

/// The demo's story, as it happens: each line stamped with the time since the start.
final class Timeline: @unchecked Sendable {
    private let start = ContinuousClock.now
    private let lock = NSLock()

    func say(_ line: String) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        write(String(format: "[%6.2fs] ", seconds) + line + "\n")
    }

    /// Straight to the descriptor: the story shows as it happens, even through a pipe.
    private func write(_ text: String) {
        lock.withLock { FileHandle.standardOutput.write(Data(text.utf8)) }
    }

    /// Indented lines under the last one: the why and the how.
    func detail(_ lines: [String]) {
        write(lines.map { "           " + $0 + "\n" }.joined())
    }
}
