import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs a program to completion with a deadline. Output goes to files, not pipes, so that a
/// chatty child can never block on a full pipe while the test waits for it.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
}

public enum ProcessRunner {
    /// Runs to the end (or `timeout`: then SIGTERM, and SIGKILL two seconds later); `input`, when
    /// given, is the whole of its stdin. Started with swift-subprocess, as the product's children
    /// are: empty signal mask, default dispositions, no descriptors but 0-2. The status is the
    /// exit code, or the signal that ended it.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: TimeInterval = 60, input: String? = nil) async throws -> ProcessResult {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
        var options = PlatformOptions()
        options.teardownSequence = [.send(signal: .terminate, allowedDurationToNextStep: .seconds(2))]
        let configuration = Configuration(
            executable: .path(FilePath(executable)), arguments: Arguments(arguments),
            environment: .inherit.updating(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), Optional($0.value)) })),
            platformOptions: options)
        let outFD = try FileDescriptor.open(FilePath(out.path), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: .ownerReadWrite)
        let errFD: FileDescriptor
        do {
            errFD = try FileDescriptor.open(FilePath(err.path), .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: .ownerReadWrite)
        } catch {
            try? outFD.close()
            throw error
        }
        let (status, timedOut) = try await withThrowingTaskGroup(of: TerminationStatus?.self) { group in
            group.addTask {
                if let input {
                    return try await Subprocess.run(configuration, input: .string(input), output: .fileDescriptor(outFD, closeAfterSpawningProcess: true),
                                                    error: .fileDescriptor(errFD, closeAfterSpawningProcess: true)).terminationStatus
                }
                return try await Subprocess.run(configuration, input: .none, output: .fileDescriptor(outFD, closeAfterSpawningProcess: true),
                                                error: .fileDescriptor(errFD, closeAfterSpawningProcess: true)).terminationStatus
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                return nil
            }
            // The first to finish: the child (its status), or the deadline (nil), which cancels
            // the run: Subprocess tears the child down and the run ends.
            let first = try await group.next() ?? nil
            group.cancelAll()
            if let first { return (first, false) }
            var status = TerminationStatus.signaled(SIGKILL)
            while let next = try? await group.next() { if let next { status = next } }
            return (status, true)
        }
        let code: Int32 = switch status {
        case .exited(let code): code
        case .signaled(let signal): signal
        }
        return ProcessResult(status: code,
                             stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
                             timedOut: timedOut)
    }

    /// `umockdev-run -d RECORDING -- PROGRAM ARGS`: the program sees the recorded devices.
    public static func underUMockdev(_ recording: URL, _ executable: String, _ arguments: [String],
                                     timeout: TimeInterval = 60) async throws -> ProcessResult {
        try await run(Tools.which("umockdev-run") ?? "/usr/bin/umockdev-run",
                ["-d", recording.path, "--", executable] + arguments, timeout: timeout)
    }
}
