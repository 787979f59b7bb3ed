import Foundation
import TetherModel

/// A program Tether starts and supervises (QEMU, usbredirect), spawned with an empty signal
/// mask, default signal handling and none of Tether's other descriptors. Foundation's Process
/// passes on the spawning thread's mask, and Swift's worker threads block nearly every signal,
/// so a QEMU started that way ignored SIGTERM (seen: SigBlk fffffffe3bfbea67), and SIGPIPE stayed
/// ignored in every child. Descriptors matter as much: a QEMU that inherited another QEMU's QMP
/// connection kept it open, and that QEMU never saw its client leave.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `path` with `arguments`; its standard output and error go to `output` (a file or
    /// pipe descriptor; /dev/null when nil). Standard input is /dev/null. `environment`: the
    /// child's whole environment (nil: this process's).
    public init(_ path: String, _ arguments: [String], output: Int32? = nil, environment: [String: String]? = nil) throws(TetherError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_adddup2(&actions, output, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        Self.closeTheRest(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // Its own process group: a Ctrl-C meant for the operator's shell does not reach it.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in envp ?? [] { free(pointer) } }
        var child: pid_t = 0
        let rc = envp.map { envp in envp.withUnsafeBufferPointer { posix_spawn(&child, path, &actions, &attributes, argv, $0.baseAddress) } }
            ?? posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            throw TetherError(.io, "cannot start \(path)", cause: String(cString: strerror(rc)))
        }
        pid = child
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// The child closes every descriptor above 2: glibc's closefrom action (2.34 and later, not
    /// exported to Swift, so looked up), else every descriptor is marked close-on-exec here.
    private static func closeTheRest(_ actions: inout posix_spawn_file_actions_t) {
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
            if closeFrom(&actions, 3) == 0 { return }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
    }

    /// True until the child has exited (and been reaped here).
    public var isRunning: Bool {
        lock.withLock {
            guard exitStatus == nil else { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status }
            return exitStatus == nil
        }
    }

    /// The exit code, or 128 + the signal that ended it; nil while it runs.
    public var terminationStatus: Int32? {
        guard !isRunning, let status = lock.withLock({ exitStatus }) else { return nil }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    public func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// Waits for the child to exit, polling (so that no thread blocks in waitpid).
    public func waitForExit(timeout: Duration? = nil) async -> Int32? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while isRunning {
            if let deadline, ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return terminationStatus
    }

    /// Runs a short helper to its end: its exit status and what it printed (stdout and stderr
    /// together), trimmed.
    public static func run(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws(TetherError) -> (status: Int32, output: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TetherError(.io, "cannot make a pipe", cause: String(cString: strerror(errno))) }
        let child: ChildProcess
        do {
            child = try ChildProcess(path, arguments, output: fds[1], environment: environment)
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        close(fds[0])
        while child.isRunning { usleep(1_000) }
        return (child.terminationStatus ?? -1, String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
