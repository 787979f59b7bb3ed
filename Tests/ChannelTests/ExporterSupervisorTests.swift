import Channel
import Foundation
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// The exporter supervisor with the real `usbredirect`: under umockdev it cannot start its host
/// side (its libusb calls go beyond the recording), so it dies, and must be restarted, reported,
/// and finally stopped.
@Suite(.requires(Tools.which("usbredirect") != nil && Tools.hasUMockdev, "usbredirect or umockdev is not installed (apt-get install usbredirect umockdev)"))
struct ExporterSupervisorTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        var sink: @Sendable (String) -> Void { { line in self.lock.withLock { self.lines.append(line) } } }
        var all: [String] { lock.withLock { lines } }
    }

    @Test func aDyingExporterIsRestartedAndItsFailuresReported() async throws {
        let log = Lines()
        let supervisor = ExporterSupervisor(
            device: "1a86:7523", listen: "127.0.0.1:\(try QEMUTestbed.freePort())",
            launcher: ["umockdev-run", "-d", Fixtures.usb("ch340").path, "--"],
            initialBackoff: .milliseconds(50), maximumBackoff: .milliseconds(200), log: log.sink)
        try supervisor.start()
        for _ in 0..<300 where supervisor.exits.count < 3 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(supervisor.starts >= 3, "restarted after each death")
        let exit = try #require(supervisor.exits.first)
        #expect(exit.output.contains("Error starting usbredirhost"), "what it said is kept: \(exit.output)")
        #expect(log.all.contains { $0.contains("usbredirect exited with status") && $0.contains("restarting in") })
        await supervisor.stop()
        #expect(!supervisor.isRunning)
        let after = supervisor.starts
        try await Task.sleep(for: .milliseconds(400))
        #expect(supervisor.starts == after, "a stopped supervisor starts nothing more")
    }

    /// What the `started` callback needs of the test: the supervisor (made after the callback),
    /// and the pids it was told.
    final class Starts: @unchecked Sendable {
        private let lock = NSLock()
        private var pids: [Int32] = []
        var supervisor: ExporterSupervisor?
        var stopped = false
        func add(_ pid: Int32) -> Int { lock.withLock { pids.append(pid); return pids.count } }
        var all: [Int32] { lock.withLock { pids } }
        func markStopped() { lock.withLock { stopped = true } }
        var hasStopped: Bool { lock.withLock { stopped } }
    }

    /// An unplugged device's exporter dies, and its restart meets the unplug's stop: the stop
    /// comes while the new child is being started, before the supervisor holds it. The new
    /// child must still be stopped, and the stop must return (before, it waited for a child
    /// nobody stopped, and the agent's loop with it). Here the first run exits at once and the
    /// second would run for good (an exporter waiting for its client).
    @Test func aStopThatComesWhileARestartIsStartingStopsTheNewChild() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tether-supervisor-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = "\(directory)/exporter"
        try "#!/bin/sh\nif [ -e \(directory)/ran ]; then exec sleep 1000; fi\ntouch \(directory)/ran\nexit 3\n"
            .write(toFile: program, atomically: true, encoding: .utf8)
        chmod(program, 0o755)
        let starts = Starts()
        starts.supervisor = ExporterSupervisor(
            device: "1a86:7523", listen: "127.0.0.1:1", program: program, initialBackoff: .milliseconds(10), maximumBackoff: .milliseconds(10),
            started: { pid in
                guard starts.add(pid) == 2, let supervisor = starts.supervisor else { return }
                // The stop is asked now, while the second child is being started.
                Task {
                    await supervisor.stop(grace: .milliseconds(500))
                    starts.markStopped()
                }
                for _ in 0..<500 where !supervisor.isStopping { usleep(10_000) }
            })
        let supervisor = try #require(starts.supervisor)
        try supervisor.start()
        for _ in 0..<1000 where !starts.hasStopped { try await Task.sleep(for: .milliseconds(10)) }
        let pids = starts.all
        #expect(starts.hasStopped, "the stop returned")
        #expect(pids.count == 2, "no child started after the stop: \(pids)")
        #expect(!supervisor.isRunning)
        if let second = pids.last { #expect(kill(second, 0) != 0, "the child started during the stop is gone") }
    }

    @Test func aMissingExporterIsAClearError() throws {
        let supervisor = ExporterSupervisor(device: "1a86:7523", listen: "127.0.0.1:1", program: "no-such-usbredirect")
        #expect { try supervisor.start() } throws: { error in
            (error as? TetherError)?.message.contains("no-such-usbredirect is not installed") == true
        }
    }
}
