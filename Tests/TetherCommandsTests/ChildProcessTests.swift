import Foundation
import Testing
import TetherSystem

/// ChildProcess on swift-subprocess: a child started from a task (whose thread blocks nearly
/// every signal) starts clean, and `stop` is SIGTERM then SIGKILL.
@Suite struct ChildProcessTests {
    @Test func aLongLivedChildStartsWithAnEmptyMaskItsOwnGroupAndOnlyItsStandardDescriptors() async throws {
        let child = try await ChildProcess.start("/bin/sleep", ["30"])
        let status = try String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8)
        let line = { (key: String) in status.split(separator: "\n").first { $0.hasPrefix(key) }.map { String($0.split(separator: "\t").last ?? "") } }
        #expect(line("SigBlk:") == "0000000000000000")
        // SIGPIPE (13) back at its default: bit 12 clear.
        #expect((UInt64(line("SigIgn:") ?? "", radix: 16) ?? 0) & (1 << 12) == 0)
        #expect(line("NSpgid:") == "\(child.pid)")
        // Given a moment: sleep's own start-up (the loader, setlocale) opens and closes fd 3, which once
        // a reading on a loaded machine once caught. One inherited would stay.
        var fds: [Int] = []
        for _ in 0..<200 {
            fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(child.pid)/fd").compactMap(Int.init).sorted()
            if fds == [0, 1, 2] { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(fds == [0, 1, 2])
        #expect(child.isRunning)
        #expect(await child.stop(grace: .seconds(5)) == 128 + SIGTERM)
        #expect(!child.isRunning)
    }

    @Test func stopKillsAChildThatIgnoresSIGTERMAfterTheGracePeriod() async throws {
        let child = try await ChildProcess.start("/bin/sh", ["-c", "trap '' TERM; while :; do sleep 0.05; done"])
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        #expect(await child.stop(grace: .milliseconds(300)) == 128 + SIGKILL)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    @Test func anExitCodeIsReported() async throws {
        let child = try await ChildProcess.start("/bin/sh", ["-c", "exit 3"])
        #expect(await child.waitForExit(timeout: .seconds(10)) == 3)
    }
}
