import Foundation
import NIOConcurrencyHelpers
import TetherModel
import TetherSystem

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
        var process: ChildProcess?
        var stopping = false
        var stopGrace: Duration = .seconds(2)
        var starts = 0
        var exits: [Exit] = []
    }

    public let arguments: [String]
    private let program: String
    /// Words put before the program (e.g. `umockdev-run -d REC --` in tests, `ip netns exec NS`).
    private let launcher: [String]
    private let state = NIOLockedValueBox(State())
    private let log: @Sendable (String) -> Void
    private let onStart: @Sendable (Int32) -> Void
    private let initialBackoff: Duration
    private let maximumBackoff: Duration
    private let loop = NIOLockedValueBox<Task<Void, Never>?>(nil)

    /// `device`: VID:PID or BUS-PORT, as usbredirect takes it; `listen`: HOST:PORT it serves on.
    /// `started` is told each child's pid as it starts (and restarts), so that its owner can
    /// record what it started.
    public init(device: String, listen: String, program: String = "usbredirect", launcher: [String] = [],
                initialBackoff: Duration = .milliseconds(250), maximumBackoff: Duration = .seconds(10),
                started: @escaping @Sendable (Int32) -> Void = { _ in }, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.program = program
        self.launcher = launcher
        self.arguments = ["--device", device, "--as", listen]
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.log = log
        self.onStart = started
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
            var fds: [Int32] = [-1, -1]
            let process: ChildProcess
            do {
                guard pipe(&fds) == 0 else { throw TetherError(.io, "cannot make a pipe", cause: String(cString: strerror(errno))) }
                // Neither end may leak into the child except as its stdout and stderr.
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                defer { close(fds[1]) }
                process = try await ChildProcess.start(command[0], Array(command.dropFirst()) + arguments, output: fds[1])
            } catch {
                if fds[0] >= 0 { close(fds[0]) }
                log("cannot start \(program): \(error)")
                state.withLockedValue { $0.exits.append(Exit(status: -1, ranFor: .zero, output: "\(error)")) }
                break
            }
            onStart(process.pid)
            log("started \(program) \(arguments.joined(separator: " ")) (pid \(process.pid))")
            let stoppedWhileStarting = state.withLockedValue { s -> Duration? in
                s.process = process
                s.starts += 1
                return s.stopping ? s.stopGrace : nil
            }
            // A stop that came while this child was being started found no child to stop, and
            // waits for this loop: it is stopped here. Left running, an exporter that does not
            // exit on its own (one waiting for its client) would hold that stop, and the agent
            // loop that awaits it, forever. A restart after an unplugged device's exporter died
            // meets the unplug's own stop just so.
            if let grace = stoppedWhileStarting { await process.stop(grace: grace) }
            let text = await Self.collect(fds[0])
            let status = await process.waitForExit() ?? -1
            let ranFor = ContinuousClock.now - started
            let exit = Exit(status: status, ranFor: ranFor, output: String(text.suffix(2000)))
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
            await pause(backoff)
        }
    }

    /// Reads everything the child prints until it closes its output (it exits), then closes the pipe.
    static func collect(_ fd: Int32) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var data = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { break }
                    data += buffer.prefix(n)
                }
                close(fd)
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    /// Waits `backoff`, or less once a stop is asked: a crash loop's backoff (up to
    /// `maximumBackoff`) must not hold up the stop.
    private func pause(_ backoff: Duration) async {
        let end = ContinuousClock.now + backoff
        while ContinuousClock.now < end, !isStopping {
            try? await Task.sleep(for: min(.milliseconds(50), end - ContinuousClock.now))
        }
    }

    /// True once `stop` has been asked.
    public var isStopping: Bool { state.withLockedValue { $0.stopping } }

    /// Stops the exporter: SIGTERM, then SIGKILL if it has not gone within `grace`. Returns once
    /// the supervision has ended, whatever it was doing (running a child, starting one, waiting
    /// to restart one).
    public func stop(grace: Duration = .seconds(2)) async {
        let process = state.withLockedValue { s -> ChildProcess? in
            s.stopping = true
            s.stopGrace = grace
            return s.process
        }
        if let process { await process.stop(grace: grace) }
        await loop.withLockedValue { $0 }?.value
        log("stopped \(program)")
    }

}
