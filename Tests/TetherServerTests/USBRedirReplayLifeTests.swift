import Foundation
import Testing
import TetherSystem
import TetherTestSupport

/// usbredir-replay (the tests' and demo's exporter) lives as long as the process that started it:
/// not less (the thread that spawned it may end long before; an agent spawns from its
/// concurrency pool, whose threads retire after a few idle seconds), and not more (an agent
/// killed outright leaves no replay serving on a port nobody knows).
@Suite struct USBRedirReplayLifeTests {
    static let arguments = ["--device", "1a86:7523", "--as", "127.0.0.1:0"]
    static var environment: [String] { ["TETHER_USBREDIR_RECORDING=\(Fixtures.usb("ch340").path)"] }

    /// Spawns `argv` with `environment` from a thread of its own, which ends half a second later:
    /// its pid.
    static func spawnFromAThreadThatEnds(_ argv: [String]) async throws -> pid_t {
        let spawned: (pid: pid_t, rc: Int32) = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var pid: pid_t = 0
                let cArguments = argv.map { strdup($0) } + [nil]
                let cEnvironment = environment.map { strdup($0) } + [nil]
                let rc = posix_spawn(&pid, argv[0], nil, nil, cArguments, cEnvironment)
                for pointer in cArguments + cEnvironment { free(pointer) }
                continuation.resume(returning: (pid, rc))
                // It ends once the child has started for good (a thread that ended before the
                // child asked to be told of its death would tell nothing).
                usleep(500_000)
            }
        }
        try #require(spawned.rc == 0, "posix_spawn: \(String(cString: strerror(spawned.rc)))")
        return spawned.pid
    }

    /// Running, neither exited nor a zombie.
    static func runs(_ pid: pid_t) -> Bool {
        ProcessStat(pid: pid)?.isAlive ?? false
    }

    @Test func itOutlivesTheThreadThatSpawnedIt() async throws {
        let pid = try await Self.spawnFromAThreadThatEnds([Tools.product("usbredir-replay")] + Self.arguments)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        // The spawning thread ends after 0.5 s; PR_SET_PDEATHSIG would have killed the child then.
        try await Task.sleep(for: .milliseconds(2000))
        var status: Int32 = 0
        #expect(waitpid(pid, &status, WNOHANG) == 0, "the replay still runs (exit status \(status))")
    }

    @Test func itStopsWhenTheProcessThatStartedItHasGone() async throws {
        // A shell starts the replay in the background, prints its pid, and exits half a second
        // later (the replay takes its parent as it starts, as it would a running agent).
        let shell = try ChildProcess.run("/bin/sh", ["-c", "\"$0\" \"$@\" >/dev/null 2>&1 & echo $!; sleep 0.5", Tools.product("usbredir-replay")] + Self.arguments,
                                         environment: ["TETHER_USBREDIR_RECORDING": Fixtures.usb("ch340").path])
        let output = shell.output
        let pid = try #require(pid_t(output.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(pid, SIGKILL) }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, Self.runs(pid) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!Self.runs(pid), "the orphaned replay stopped within 5 s")
    }
}
