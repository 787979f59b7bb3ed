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

    @Test func aMissingExporterIsAClearError() throws {
        let supervisor = ExporterSupervisor(device: "1a86:7523", listen: "127.0.0.1:1", program: "no-such-usbredirect")
        #expect { try supervisor.start() } throws: { error in
            (error as? TetherError)?.message.contains("no-such-usbredirect is not installed") == true
        }
    }
}
