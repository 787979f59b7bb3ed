import Foundation
import TetherModel
import TetherSystem

/// A long-running program (a relay, an exporter, a testbed) whose combined output a test
/// watches, to which it may write lines, and which it stops with SIGTERM. Started with
/// `ChildProcess.start` (swift-subprocess), as the product's children are.
public final class BackgroundProcess: @unchecked Sendable {
    private let process: ChildProcess
    private let input: Pipe?
    private let lock = NSLock()
    private var text = ""

    /// `input`: give it a standard input the test writes to (`send`); else /dev/null.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], input: Bool = false) async throws {
        let input = input ? Pipe() : nil
        self.input = input
        var output: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw TetherError(.io, "cannot make a pipe", cause: String(cString: strerror(errno))) }
        for fd in output { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        do {
            process = try await ChildProcess.start(executable, arguments, output: output[1], input: input?.fileHandleForReading.fileDescriptor,
                                                   environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
        } catch {
            close(output[0])
            close(output[1])
            throw error
        }
        // The child has its own copies: the output reaches end of file when it (and whatever it
        // started) has gone.
        close(output[1])
        try? input?.fileHandleForReading.close()
        // Read on a thread of its own, which closes the pipe at its end. Not FileHandle's
        // readabilityHandler: that is a dispatch source, and the handle closed its descriptor
        // as the value went, before the source's cancellation had run; when the number was
        // reused, libdispatch's event loop crashed the whole test process (seen in CI,
        // "Bad pointer dereference" in _dispatch_event_loop_drain).
        let reader = output[0]
        Thread.detachNewThread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                guard let self else { continue }   // gone: drained until the child's end
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                self.lock.withLock { self.text += text }
            }
            close(reader)
        }
    }

    public var output: String { lock.withLock { text } }

    /// The complete lines printed so far.
    public var lines: [String] {
        let all = output.split(separator: "\n", omittingEmptySubsequences: false)
        return all.dropLast().map(String.init)
    }

    public func waitForOutput(_ needle: String, timeout: TimeInterval = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if output.contains(needle) { return true }
            usleep(10_000)
        }
        return false
    }

    /// The first line satisfying `matches`, or nil at the deadline.
    public func waitForLine(timeout: TimeInterval = 20, where matches: (String) -> Bool) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = lines.first(where: matches) { return line }
            usleep(5_000)
        }
        return nil
    }

    public func send(_ line: String) {
        input?.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    public func terminate() { process.signal(SIGTERM) }

    /// SIGKILL: a host that dies.
    public func kill() { process.signal(SIGKILL) }

    /// SIGTERM, then SIGKILL if it is still there after `grace` (Subprocess's teardown).
    public func stop(grace: TimeInterval = 2) async {
        await process.stop(grace: .seconds(grace))
    }

    /// The exit status (the code, or 128 + the signal), or nil if it is still running at the
    /// deadline (then it is killed).
    public func waitForExit(timeout: TimeInterval) async -> Int32? {
        guard let status = await process.waitForExit(timeout: .seconds(timeout)) else {
            process.signal(SIGKILL)
            _ = await process.waitForExit()
            return nil
        }
        try? await Task.sleep(for: .milliseconds(50))   // let the last output arrive
        return status
    }

    deinit {
        process.signal(SIGKILL)
    }
}
