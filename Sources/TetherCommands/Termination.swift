import ArgumentParser
import Foundation
import TetherModel

/// How long-running commands (channel serve, connect, export) learn they should stop: SIGINT
/// or SIGTERM, through a handler that writes to a pipe. The signals are unblocked first: a
/// process started from a thread that blocks them (as Swift's worker threads do) inherits the
/// block, and would otherwise never see its SIGTERM.
enum Termination {
    nonisolated(unsafe) static var pipeWrite: Int32 = -1

    /// Call first thing in main, before any thread is made.
    static func unblockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Returns the signal that asked the process to stop.
    static func wait() async -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return 0 }
        pipeWrite = fds[1]
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(Termination.pipeWrite, &byte, 1)
            }
        }
        let readEnd = fds[0]
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var byte: UInt8 = 0
                _ = read(readEnd, &byte, 1)
                continuation.resume(returning: Int32(byte))
            }
        }
    }
}

extension HostPort: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
