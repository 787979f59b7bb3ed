import Foundation

/// What the kernel says of one process in `/proc/PID/stat` (proc(5)). The command name, field 2,
/// is in parentheses and may itself hold spaces and ')': the fields are counted from the last
/// ')', never by splitting the whole line.
public struct ProcessStat: Sendable, Equatable {
    /// Field 3: R, S, D, Z (a zombie: it has exited, its parent has not reaped it), T, ...
    public var state: Character
    /// Fields 14 and 15: CPU time in user and kernel mode, in clock ticks.
    public var userTicks: UInt64
    public var systemTicks: UInt64
    /// Field 22: when the process started, in clock ticks since boot. With the pid, it names
    /// one process: a pid reused by another has another start time.
    public var startTime: UInt64

    /// Reads `proc`/PID/stat; nil when the process is gone or the file does not parse.
    public init?(pid: Int32, proc: String = "/proc") {
        guard let text = ProcFile.text("\(proc)/\(pid)/stat") else { return nil }
        self.init(parsing: text)
    }

    /// Parses the text of a stat file; nil when it is not one.
    public init?(parsing text: String) {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // From field 3 on: index 0 is the state, 11 and 12 the CPU times, 19 the start time.
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 19, fields[0].count == 1, let state = fields[0].first,
              let user = UInt64(fields[11]), let system = UInt64(fields[12]), let start = UInt64(fields[19]) else { return nil }
        self.state = state
        userTicks = user
        systemTicks = system
        startTime = start
    }

    /// Not yet exited (a zombie has).
    public var isAlive: Bool { state != "Z" }

    /// User and kernel CPU time together, in seconds.
    public var cpuSeconds: Double { Double(userTicks + systemTicks) / Double(sysconf(Int32(_SC_CLK_TCK))) }
}
