import Foundation
import TetherModel

/// Whether IO through a datastore path succeeds (the spec: a path is `up` while IO through it
/// succeeds).
public enum PathState: String, Sendable, Codable, Equatable {
    case up
    case down
}

/// A path's state changed, at `time` (this host's wall clock), with the error that made it down.
public struct PathStateChange: Sendable, Equatable {
    public var endpoint: NBDEndpoint
    public var state: PathState
    public var time: Date
    public var reason: String?
}

/// Watches one IO path to a datastore by writing this host's heartbeat through it every period:
/// the write is the probe. The path is `down` once `downAfter` passed without a successful write
/// (from the start, or from the last success), `up` again at the next success. A write in flight
/// is bounded by the time left until `downAfter`, so a dead path is declared on time, not after
/// TCP's retransmissions or a connect's full timeout.
///
/// `run()` owns a thread for as long as it runs; `changes` and `state` report. The connection is
/// made anew after any failure.
public final class DatastorePathMonitor: Sendable {
    public struct Settings: Sendable, Equatable {
        /// One heartbeat write per period (the spec's 500 ms).
        public var period: Duration
        /// Down after this long without a successful write (the spec's 2 s).
        public var downAfter: Duration
        /// The longest a connect or a request may take.
        public var requestTimeout: Duration

        public init(period: Duration = .milliseconds(500), downAfter: Duration = .seconds(2),
                    requestTimeout: Duration = NBDClient.defaultTimeout) {
            self.period = period
            self.downAfter = downAfter
            self.requestTimeout = requestTimeout
        }
    }

    public let endpoint: NBDEndpoint
    public let writer: HeartbeatWriter
    public let settings: Settings
    /// Every change of state, in order (single consumer; the newest 64 are kept if nobody reads).
    public let changes: AsyncStream<PathStateChange>
    private let continuation: AsyncStream<PathStateChange>.Continuation
    private let namespace: String?
    private let status = Status()

    /// `endpoint`: the path's server and the heartbeat export (a path URI without one gets
    /// `DatastoreHeartbeats.export`). `namespace`: the network namespace to reach it from (nil:
    /// this process's).
    public init(endpoint: NBDEndpoint, writer: HeartbeatWriter, settings: Settings = Settings(), namespace: String? = nil) {
        self.endpoint = endpoint.export.isEmpty ? endpoint.with(export: DatastoreHeartbeats.export) : endpoint
        self.writer = writer
        self.settings = settings
        self.namespace = namespace
        (changes, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
    }

    /// The path's state (nil until the first success or the first `downAfter`).
    public var state: PathState? { status.read { $0.state } }
    /// The last heartbeat written through this path.
    public var lastHeartbeat: HeartbeatRecord? { status.read { $0.last } }

    /// Writes heartbeats until the calling task is cancelled; then finishes `changes`.
    public func run() async {
        await LoopThread.run("path \(endpoint)") { loop in self.loop(loop) }
        continuation.finish()
    }

    private func loop(_ loop: LoopThread) {
        var heartbeats = DatastoreHeartbeats(writer: writer)
        var client: NBDClient?
        var lastSuccess = ContinuousClock.now
        var next = ContinuousClock.now
        while !loop.isStopping {
            let started = ContinuousClock.now
            // Up to the down deadline; once down, a full timeout (a slow path that answers is up).
            let downAt = lastSuccess + settings.downAfter
            let limit = state == .down
                ? settings.requestTimeout : min(settings.requestTimeout, max(.milliseconds(50), started.duration(to: downAt)))
            let deadline = started + limit
            do throws(TetherError) {
                let connection: NBDClient
                if let client { connection = client } else { connection = try NBDClient(endpoint, timeout: limit, namespace: namespace) }
                client = connection
                let record = try heartbeats.beat(through: connection, at: Date(), deadline: deadline)
                lastSuccess = ContinuousClock.now
                report(.up, reason: nil, last: record)
            } catch {
                client = nil
                if ContinuousClock.now >= downAt { report(.down, reason: error.description, last: nil) }
            }
            next += settings.period
            // Behind schedule (a long failure): start again from now rather than bursting.
            if next < ContinuousClock.now { next = ContinuousClock.now }
            let sleepUntil = state == .up || state == nil ? min(next, lastSuccess + settings.downAfter) : next
            loop.sleep(until: max(sleepUntil, started + .milliseconds(10)))
        }
        client?.disconnect()
    }

    private func report(_ new: PathState, reason: String?, last: HeartbeatRecord?) {
        let changed = status.update { current in
            if let last { current.last = last }
            guard current.state != new else { return false }
            current.state = new
            return true
        }
        if changed { continuation.yield(PathStateChange(endpoint: endpoint, state: new, time: Date(), reason: reason)) }
    }

    private final class Status: @unchecked Sendable {
        struct Value {
            var state: PathState?
            var last: HeartbeatRecord?
        }

        private let lock = NSLock()
        private var value = Value()
        func read<T>(_ body: (Value) -> T) -> T { lock.withLock { body(value) } }
        func update<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
    }
}
