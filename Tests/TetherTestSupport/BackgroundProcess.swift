import Foundation

/// A long-running program (a relay, an exporter, a testbed) whose combined output a test
/// watches, to which it may write lines, and which it stops with SIGTERM.
public final class BackgroundProcess: @unchecked Sendable {
    private let process = Process()
    private let pipe = Pipe()
    private let input: Pipe?
    private let lock = NSLock()
    private var text = ""

    /// `input`: give it a standard input the test writes to (`send`); else /dev/null.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], input: Bool = false) throws {
        self.input = input ? Pipe() : nil
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = self.input ?? FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.text += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    public var output: String { lock.withLock { text } }

    /// The complete lines printed so far.
    public var lines: [String] {
        let all = output.split(separator: "\n", omittingEmptySubsequences: false)
        return all.dropLast().map(String.init)
    }

    public func waitForOutput(_ needle: String, timeout: TimeInterval = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if output.contains(needle) { return true }
            usleep(10_000)
        }
        return false
    }

    /// The first line satisfying `matches`, or nil at the deadline.
    public func waitForLine(timeout: TimeInterval = 20, where matches: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = lines.first(where: matches) { return line }
            usleep(5_000)
        }
        return nil
    }

    public func send(_ line: String) {
        input?.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    public func terminate() { if process.isRunning { Foundation.kill(process.processIdentifier, SIGTERM) } }

    /// SIGKILL: a host that dies.
    public func kill() { if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) } }

    /// SIGTERM, then SIGKILL if it is still there after `grace`.
    public func stop(grace: TimeInterval = 2) {
        terminate()
        _ = waitForExit(timeout: grace)
    }

    /// The exit status, or nil if it is still running at the deadline (then it is killed).
    public func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        usleep(50_000)   // let the last output arrive
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        pipe.fileHandleForReading.readabilityHandler = nil
    }
}
