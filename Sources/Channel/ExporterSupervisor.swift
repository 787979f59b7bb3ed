import Foundation
import NIOConcurrencyHelpers
import TetherModel

/// Runs the usbredir exporter (Debian's `usbredirect`) for one device as a supervised child:
/// restarted with backoff when it dies, stopped cleanly, and every exit reported with its
/// status and what it printed. Chosen over linking libusbredirhost in-process: a crash in
/// libusb or a misbehaving device takes down a child we restart, not the agent.
public final class ExporterSupervisor: Sendable {
    public struct Exit: Sendable, Equatable {
        public var status: Int32
        public var ranFor: Duration
        public var output: String
    }

    private struct State {
        var process: Process?
        var stopping = false
        var starts = 0
        var exits: [Exit] = []
    }

    public let arguments: [String]
    private let program: String
    /// Words put before the program (e.g. `umockdev-run -d REC --` in tests, `ip netns exec NS`).
    private let launcher: [String]
    private let state = NIOLockedValueBox(State())
    private let log: @Sendable (String) -> Void
    private let initialBackoff: Duration
    private let maximumBackoff: Duration
    private let loop = NIOLockedValueBox<Task<Void, Never>?>(nil)

    /// `device`: VID:PID or BUS-PORT, as usbredirect takes it; `listen`: HOST:PORT it serves on.
    public init(device: String, listen: String, program: String = "usbredirect", launcher: [String] = [],
                initialBackoff: Duration = .milliseconds(250), maximumBackoff: Duration = .seconds(10),
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.program = program
        self.launcher = launcher
        self.arguments = ["--device", device, "--as", listen]
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.log = log
    }

    public var starts: Int { state.withLockedValue { $0.starts } }
    public var exits: [Exit] { state.withLockedValue { $0.exits } }
    public var isRunning: Bool { state.withLockedValue { $0.process?.isRunning ?? false } }

    public func start() throws {
        let program = try Executable.find(self.program, package: "usbredirect")
        let command = launcher.isEmpty ? [program] : [try Executable.find(launcher[0], package: launcher[0])] + launcher.dropFirst() + [program]
        let task = Task { await self.supervise(command) }
        loop.withLockedValue { $0 = task }
    }

    private func supervise(_ command: [String]) async {
        var backoff = initialBackoff
        while !state.withLockedValue({ $0.stopping }) {
            let started = ContinuousClock.now
            let output = Pipe()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst()) + arguments
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                log("cannot start \(program): \(error)")
                state.withLockedValue { $0.exits.append(Exit(status: -1, ranFor: .zero, output: "\(error)")) }
                break
            }
            state.withLockedValue {
                $0.process = process
                $0.starts += 1
            }
            log("started \(program) \(arguments.joined(separator: " ")) (pid \(process.processIdentifier))")
            let text = await Self.collect(output, until: process)
            let ranFor = ContinuousClock.now - started
            let exit = Exit(status: process.terminationStatus, ranFor: ranFor, output: String(text.suffix(2000)))
            let stopping = state.withLockedValue { s -> Bool in
                s.process = nil
                if !s.stopping { s.exits.append(exit) }
                return s.stopping
            }
            if stopping { break }
            let said = text.split(separator: "\n").suffix(3).joined(separator: " | ")
            log("\(program) exited with status \(exit.status) after \(ranFor): \(said.isEmpty ? "(it printed nothing)" : said); restarting in \(backoff)")
            // A run that lasted resets the backoff; a crash loop slows down to the maximum.
            backoff = ranFor > .seconds(30) ? initialBackoff : min(backoff * 2, maximumBackoff)
            try? await Task.sleep(for: backoff)
        }
    }

    /// Reads everything the child prints until it exits.
    static func collect(_ pipe: Pipe, until process: Process) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    /// Stops the exporter: SIGTERM, then SIGKILL if it has not gone within `grace`.
    public func stop(grace: Duration = .seconds(2)) async {
        let process = state.withLockedValue { s -> Process? in
            s.stopping = true
            return s.process
        }
        if let process, process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now + grace
            while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        await loop.withLockedValue { $0 }?.value
        log("stopped \(program)")
    }

}
