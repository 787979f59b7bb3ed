import Foundation
import Subprocess
import TetherModel
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// A program Tether starts and supervises (QEMU, usbredirect), spawned with an empty signal
/// mask, default signal handling and none of Tether's other descriptors. Foundation's Process
/// passes on the spawning thread's mask, and Swift's worker threads block nearly every signal,
/// so a QEMU started that way ignored SIGTERM (seen: SigBlk fffffffe3bfbea67), and SIGPIPE stayed
/// ignored in every child. Descriptors matter as much: a QEMU that inherited another QEMU's QMP
/// connection kept it open, and that QEMU never saw its client leave.
///
/// Long-lived children are started with swift-subprocess (`start`), which spawns that way (and
/// in a process group of its own, here): a task of their own parks in `Subprocess.run`'s body
/// until the child exits or `stop` tears it down (SIGTERM, then SIGKILL after a grace period).
/// The task is detached, so the child outlives the task that started it; nothing ties it to
/// this process's life either (no parent-death signal): an agent that is killed leaves its VMs
/// running, to be adopted when it comes back. Short helper runs (`run`) stay on the posix_spawn
/// wrapper below: their callers are synchronous (see the README, "Processes").
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?
    /// Set while the owning task is parked in `run`'s body (the pid is not reaped, so signals
    /// by pid reach this child); cleared under the lock before the body returns.
    private var execution: Execution<FileDescriptorInput, FileDescriptorOutput, CombinedErrorOutput>?
    private var stopRequests: AsyncStream<Duration>.Continuation?
    /// Tasks waiting for the exit (`waitForExit`), resumed by `finish`.
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter: UInt64 = 0

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `path` with `arguments`; its standard output and error go to `output` (a file or
    /// pipe descriptor, duplicated here, so the caller keeps and closes its own; /dev/null when
    /// nil). Standard input is `input` (duplicated too), or /dev/null. `environment`: the
    /// child's whole environment (nil: this process's).
    public static func start(_ path: String, _ arguments: [String], output: Int32? = nil, input: Int32? = nil,
                             environment: [String: String]? = nil) async throws(TetherError) -> ChildProcess {
        let source = input.map { fcntl($0, F_DUPFD_CLOEXEC, 3) } ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw TetherError(.io, "cannot start \(path)", cause: String(cString: strerror(errno))) }
        var destination: Int32 = -1
        if let output {
            destination = fcntl(output, F_DUPFD_CLOEXEC, 3)
        } else {
            destination = open("/dev/null", O_WRONLY | O_CLOEXEC)
        }
        guard destination >= 0 else {
            let cause = String(cString: strerror(errno))
            close(source)
            throw TetherError(.io, "cannot start \(path)", cause: cause)
        }
        var options = PlatformOptions()
        // Its own process group: a Ctrl-C meant for the operator's shell does not reach it.
        options.processGroupID = 0
        let configuration = Configuration(
            executable: .path(FilePath(path)), arguments: Arguments(arguments),
            environment: environment.map { .custom(Dictionary(uniqueKeysWithValues: $0.map { (Environment.Key(stringLiteral: $0.key), $0.value) })) } ?? .inherit,
            platformOptions: options)
        let (requests, stopRequests) = AsyncStream<Duration>.makeStream()
        let started = AsyncStream<Result<ChildProcess, TetherError>>.makeStream()
        let fd = destination
        Task.detached {
            var child: ChildProcess?
            do {
                let result = try await Subprocess.run(
                    configuration, input: .fileDescriptor(FileDescriptor(rawValue: source), closeAfterSpawningProcess: true), output: .fileDescriptor(FileDescriptor(rawValue: fd), closeAfterSpawningProcess: true),
                    error: .combinedWithOutput
                ) { execution in
                    let process = ChildProcess(pid: execution.processIdentifier.value)
                    child = process
                    process.lock.withLock {
                        process.execution = execution
                        process.stopRequests = stopRequests
                    }
                    started.continuation.yield(.success(process))
                    await process.park(execution, stopRequests: requests)
                }
                child?.finish(Self.code(result.terminationStatus))
            } catch {
                if let child {
                    child.finish(-1)
                } else {
                    // Subprocess has closed both descriptors (closeAfterSpawningProcess, and on failure).
                    started.continuation.yield(.failure(TetherError(.io, "cannot start \(path)", cause: "\(error)")))
                }
            }
            started.continuation.finish()
        }
        for await outcome in started.stream { return try outcome.get() }
        throw TetherError(.io, "cannot start \(path)")
    }

    /// The body of `run`: returns once the child has exited (its pidfd readable; it is reaped by
    /// `run` after), tearing it down first when asked to stop.
    private func park(_ execution: Execution<FileDescriptorInput, FileDescriptorOutput, CombinedErrorOutput>, stopRequests: AsyncStream<Duration>) async {
        let pidfd = execution.processIdentifier.processDescriptor
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await Self.exited(pidfd: pidfd, pid: execution.processIdentifier.value)
                return true
            }
            group.addTask {
                for await grace in stopRequests {
                    await execution.teardown(using: [.send(signal: .terminate, allowedDurationToNextStep: grace)])
                    break
                }
                return false
            }
            // Whichever ends first, the other follows: the child has gone, or has been torn down.
            if await group.next() == true { group.cancelAll() }
            await group.waitForAll()
        }
        lock.withLock {
            self.execution = nil
            self.stopRequests = nil
        }
    }

    /// Waits, on a thread of its own (not one of the concurrency pool's), until the child has
    /// exited, without reaping it.
    private static func exited(pidfd: Int32, pid: pid_t) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                if pidfd >= 0 {
                    var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                    while poll(&entry, 1, -1) < 0 && errno == EINTR {}
                } else {
                    var info = siginfo_t()
                    while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
                }
                continuation.resume()
            }
        }
    }

    private func finish(_ status: Int32) {
        let waiting = lock.withLock {
            exitStatus = status
            defer { waiters = [:] }
            return waiters
        }
        for waiter in waiting.values { waiter.resume() }
    }

    /// Returns once the child has gone (and been reaped), or once the waiting task is cancelled.
    private func exited() async {
        let id = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = lock.withLock { () -> Bool in
                    if exitStatus != nil || Task.isCancelled { return true }
                    waiters[id] = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            lock.withLock { waiters.removeValue(forKey: id) }?.resume()
        }
    }

    private static func code(_ status: TerminationStatus) -> Int32 {
        switch status {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    /// True until the child has exited (and been reaped).
    public var isRunning: Bool { lock.withLock { exitStatus == nil } }

    /// The exit code, or 128 + the signal that ended it; nil while it runs.
    public var terminationStatus: Int32? { lock.withLock { exitStatus } }

    public func signal(_ number: Int32) {
        // Only while the body is parked: until then the pid is this child's, not reaped.
        lock.withLock {
            if execution != nil { _ = kill(pid, number) }
        }
    }

    /// Stops the child: SIGTERM, then SIGKILL if it has not gone within `grace` (Subprocess's
    /// teardown sequence); its status once it has gone.
    @discardableResult
    public func stop(grace: Duration = .seconds(2)) async -> Int32? {
        _ = lock.withLock { stopRequests?.yield(grace) }
        return await waitForExit()
    }

    /// Waits for the child to exit (told by its owning task, no polling): its status, or nil at
    /// the deadline or when the waiting task is cancelled.
    public func waitForExit(timeout: Duration? = nil) async -> Int32? {
        guard let timeout else {
            await exited()
            return terminationStatus
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.exited() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return terminationStatus
    }

    /// Starts a child with the posix_spawn wrapper (short helper runs, from synchronous code):
    /// its pid.
    private static func spawn(_ path: String, _ arguments: [String], output: Int32? = nil, environment: [String: String]? = nil) throws(TetherError) -> pid_t {
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
        return child
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

    /// Runs a short helper to its end: its exit status and what it printed (stdout and stderr
    /// together), trimmed. Synchronous, on the posix_spawn wrapper: its callers are synchronous
    /// code (the lab's `ip`, the OCI hook, `tether demo`), and waiting here on Subprocess's async
    /// run would block a thread of the concurrency pool on work that needs that pool.
    public static func run(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws(TetherError) -> (status: Int32, output: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TetherError(.io, "cannot make a pipe", cause: String(cString: strerror(errno))) }
        let child: pid_t
        do {
            child = try spawn(path, arguments, output: fds[1], environment: environment)
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
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        let code = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        return (code, String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
