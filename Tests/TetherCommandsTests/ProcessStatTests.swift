import Foundation
import Testing
import TetherSystem

/// /proc/PID/stat read as proc(5) lays it out: the agent's exporter record and the hook's
/// container watch tell a process from a later one on the same pid by its start time.
@Suite struct ProcessStatTests {
    /// A stat line with `name` as the command and the given state, CPU ticks and start time.
    static func line(name: String, state: String = "S", user: Int = 7, system: Int = 3, start: Int = 123_456) -> String {
        // Fields 4 to 13, then utime and stime, then 16 to 21, then starttime and a few more.
        "4242 (\(name)) \(state) 1 4242 4242 0 -1 4194560 100 0 0 0 \(user) \(system) 0 0 20 0 1 0 \(start) 12345678 300 18446744073709551615\n"
    }

    @Test func theFieldsAreCountedFromTheLastParenthesisSoANameWithSpacesAndParenthesesReadsRight() throws {
        let stat = try #require(ProcessStat(parsing: Self.line(name: "a) b (c) Z 9", state: "R")))
        #expect(stat.state == "R")
        #expect(stat.userTicks == 7 && stat.systemTicks == 3)
        #expect(stat.startTime == 123_456)
        #expect(stat.isAlive)
    }

    @Test func aZombieHasExited() throws {
        let stat = try #require(ProcessStat(parsing: Self.line(name: "usbredirect", state: "Z")))
        #expect(!stat.isAlive)
    }

    @Test(arguments: [
        "",
        "4242 usbredirect S 1 2 3",                          // no parentheses
        "4242 (usbredirect) S 1 4242 4242 0 -1 4194560",     // cut short
        Self.line(name: "x", start: -5),                     // a start time that is no count of ticks
        Self.line(name: "x", state: "SR"),                   // a state of two letters
    ])
    func whatIsNotAStatLineIsRefused(_ text: String) {
        #expect(ProcessStat(parsing: text) == nil)
    }

    @Test func aProcessReadsAliveWithAStartTimeItsSuccessorOnThePidWouldNotShare() async throws {
        let own = try #require(ProcessStat(pid: getpid()))
        #expect(own.isAlive)
        #expect(own.startTime > 0)
        #expect(own.cpuSeconds > 0, "this test process has run")
        // A process started later has a later start time (the tick count only grows).
        let child = try await ChildProcess.start("/bin/sleep", ["30"])
        let later = ProcessStat(pid: child.pid)
        _ = await child.stop(grace: .seconds(5))
        #expect(later.map { $0.isAlive && $0.startTime >= own.startTime } == true)
        #expect(ProcessStat(pid: Int32.max) == nil, "no process has that pid")
    }
}
