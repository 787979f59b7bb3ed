import Foundation
import TetherClient
import TetherModel
import TetherSystem

/// Gives a container's devices back when it ends, for runtimes that never run the poststop hook
/// a CDI spec declares (podman 4 runs only hooks.d's poststop hooks itself, and its runc delete
/// skips those in the bundle). The createRuntime hook leaves this watcher behind, in a session of
/// its own with no stdio (a runtime waits for a hook's output to close): it waits for the
/// container's first process to end, then detaches. A detach the poststop hook made first finds
/// nothing, which is no error.
public struct ContainerWatch: Sendable {
    public var pid: Int32
    public var container: String
    public var socket: String
    public var timeout: Duration

    public init(pid: Int32, container: String, socket: String, timeout: Duration) {
        self.pid = pid
        self.container = container
        self.socket = socket
        self.timeout = timeout
    }

    /// The arguments of `tether-oci-attach watch` for this watch.
    public var arguments: [String] {
        ["watch", "--pid", "\(pid)", "--container", container, "--socket", socket, "--timeout", "\(max(1, timeout.components.seconds))"]
    }

    /// Starts `program watch ...` detached: its own session, stdio on /dev/null.
    public func leaveBehind(program: String) throws(TetherError) {
        let quoted = ([program] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let result = try Helper.run(["sh", "-c", "exec setsid -f \(quoted) </dev/null >/dev/null 2>&1"])
        guard result.status == 0 else { throw TetherError(.io, "cannot leave a watcher for \(container) behind: \(result.output)") }
    }

    /// Waits until the process has exited, then detaches the container's devices.
    public func run() async throws(TetherError) {
        await Self.waitForExit(pid)
        let client = ControllerClient(APIClient(servers: socket.split(separator: ",").map { .unixSocket(String($0)) },
                                                timeout: .seconds(Int64(max(1, timeout.components.seconds)))))
        defer { Task { await client.api.close() } }
        // A controller between leaders, or restarting, is asked again for two minutes.
        var wait: Duration = .milliseconds(500)
        let giveUp = ContinuousClock.now + .seconds(120)
        while true {
            do {
                let reply = try await client.detach(DetachRequest(container: container))
                let deadline = ContinuousClock.now + timeout
                for operation in reply.operations {
                    _ = try? await client.follow(operation.id, until: deadline, late: "\(operation.id) did not finish within \(timeout)")
                }
                return
            } catch where error.code == .notFound {
                return
            } catch {
                guard ContinuousClock.now + wait < giveUp else { throw error }
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(10))
            }
        }
    }

    /// Polls the process four times a second: gone, or a zombie, or its pid taken by another
    /// process since (its start time differs), it has exited.
    static func waitForExit(_ pid: Int32) async {
        let started = startTime(pid)
        while let now = startTime(pid), now == started { try? await Task.sleep(for: .milliseconds(250)) }
    }

    /// When the process started (clock ticks since boot); nil when it is gone or a zombie.
    static func startTime(_ pid: Int32) -> UInt64? {
        guard let stat = ProcessStat(pid: pid), stat.isAlive else { return nil }
        return stat.startTime
    }
}
