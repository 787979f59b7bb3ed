import Foundation

/// Runs a program to completion with a deadline. Output goes to files, not pipes, so that a
/// chatty child can never block on a full pipe while the test waits for it.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
}

public enum ProcessRunner {
    /// Runs to the end (or `timeout`); `input`, when given, is the whole of its stdin.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: TimeInterval = 60, input: String? = nil) throws -> ProcessResult {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let input {
            let path = directory.appendingPathComponent("stdin")
            try Data(input.utf8).write(to: path)
            process.standardInput = try FileHandle(forReadingFrom: path)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(2_000) }
        let timedOut = process.isRunning
        if timedOut {
            process.terminate()
            process.waitUntilExit()
        }
        return ProcessResult(status: process.terminationStatus,
                             stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
                             timedOut: timedOut)
    }

    /// `umockdev-run -d RECORDING -- PROGRAM ARGS`: the program sees the recorded devices.
    public static func underUMockdev(_ recording: URL, _ executable: String, _ arguments: [String],
                                     timeout: TimeInterval = 60) throws -> ProcessResult {
        try run(Tools.which("umockdev-run") ?? "/usr/bin/umockdev-run",
                ["-d", recording.path, "--", executable] + arguments, timeout: timeout)
    }
}
