import Failover
import Foundation
import TetherModel

/// This host's view of one network: its state and each peer's verdict, at `time`.
public struct NetworkHealthSnapshot: Sendable, Equatable {
    public var network: String
    public var state: NetworkState
    /// Whether the link carrying this host's address is up (true when it is not watched).
    public var linkUp: Bool
    /// The failure detector's verdict about each peer on this network.
    public var peers: [String: MemberState]
    public var time: Date
}

/// Watches one network: a failure detector (SWIM, `Failover.FailureDetector`) exchanging UDP
/// datagrams with the peers' agents on their addresses on this network, combined with the kernel's
/// state of the link carrying this host's address (`NetworkHealth.state`). The detector is ticked
/// every `tick` with the clock's time, fed every datagram as it arrives, and its messages sent.
///
/// `run()` owns a thread while it runs (a poll on the socket, woken by datagrams or the next
/// tick); `snapshot` is the current view, `changes` every change of state or of a verdict
/// (single consumer; the newest 64 kept). `updatePeers` changes the peers at run time (the
/// controller's cluster view).
public final class NetworkHealthMonitor: Sendable {
    public struct Settings: Sendable, Equatable {
        public var detector: FailureDetector.Settings
        /// How often the detector is ticked: a fraction of its probe timeout.
        public var tick: Duration

        public init(detector: FailureDetector.Settings = FailureDetector.Settings(), tick: Duration = .milliseconds(50)) {
            self.detector = detector
            self.tick = tick
        }
    }

    public let network: String
    public let host: String
    public let local: HostPort
    public let settings: Settings
    public let changes: AsyncStream<NetworkHealthSnapshot>
    private let continuation: AsyncStream<NetworkHealthSnapshot>.Continuation
    private let links: LinkMonitor?
    private let interface: String?
    private let namespace: String?
    private let seed: UInt64
    private let clock: @Sendable () -> Date
    private let shared: Shared

    /// - Parameters:
    ///   - local: this host's address on the network and the detector's port (every host's
    ///     `MembershipTransport.defaultPort` unless configured).
    ///   - peers: the other hosts' names and addresses on this network.
    ///   - links: the kernel's link table; the link watched is `interface`, or the one carrying
    ///     `local.host` (looked up at start). Without it the link counts as up.
    ///   - seed: the detector's randomness (probe order, helpers), for runs that can be replayed.
    ///   - clock: the time given to the detector and stamped on snapshots.
    public init(network: String, host: String, local: HostPort, peers: [String: HostPort], links: LinkMonitor? = nil,
                interface: String? = nil, settings: Settings = Settings(), seed: UInt64 = UInt64.random(in: 0...UInt64.max),
                namespace: String? = nil, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.network = network
        self.host = host
        self.local = local
        self.settings = settings
        self.links = links
        self.interface = interface
        self.namespace = namespace
        self.seed = seed
        self.clock = clock
        // Peers start alive, as in the detector: doubt needs evidence.
        let alive = peers.mapValues { _ in MemberState.alive }
        let initial = NetworkHealthSnapshot(network: network, state: NetworkHealth.state(link: true, peers: alive),
                                            linkUp: true, peers: alive, time: clock())
        shared = Shared(peers: peers, snapshot: initial)
        (changes, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
    }

    public var snapshot: NetworkHealthSnapshot { shared.withLock { $0.snapshot } }

    /// Replaces the peers (names and addresses); applied at the next tick.
    public func updatePeers(_ peers: [String: HostPort]) {
        shared.withLock { $0.peers = peers; $0.peersChanged = true }
    }

    /// Probes and answers until the calling task is cancelled; then finishes `changes`. Throws
    /// when the socket cannot be bound.
    public func run() async throws(TetherError) {
        let transport = SendableTransport(try MembershipTransport(local: local, namespace: namespace))
        await LoopThread.run("network \(network)") { loop in self.loop(transport.transport, loop) }
        continuation.finish()
    }

    private func loop(_ transport: MembershipTransport, _ loop: LoopThread) {
        // The link carrying our address, found here (a blocking netlink dump) rather than on the
        // caller's task. Not found (an address not configured yet): the link counts as up.
        var interface = self.interface
        if interface == nil, links != nil { interface = try? LinkMonitor.interface(carrying: local.host, namespace: namespace)?.name }
        var peers = shared.withLock { $0.peers }
        var detector = FailureDetector(me: host, peers: Array(peers.keys), settings: settings.detector, seed: seed)
        var nextTick = ContinuousClock.now
        while !loop.isStopping {
            if transport.waitForDatagram(ContinuousClock.now.duration(to: nextTick)) {
                // A bounded batch, so that a flood cannot starve the ticks.
                for _ in 0..<64 {
                    guard let (bytes, source) = transport.receive() else { break }
                    guard let datagram = try? MembershipDatagram(decoding: bytes), datagram.network == network,
                          let address = peers[datagram.sender], address.host == source.host else { continue }
                    send(detector.receive(datagram.message, from: datagram.sender, at: clock()), peers: peers, transport)
                }
            }
            guard ContinuousClock.now >= nextTick else { continue }
            nextTick = ContinuousClock.now + settings.tick
            if let update = shared.withLock({ state -> [String: HostPort]? in
                defer { state.peersChanged = false }
                return state.peersChanged ? state.peers : nil
            }) {
                peers = update
                detector.updatePeers(peers.keys)
            }
            let now = clock()
            send(detector.tick(at: now), peers: peers, transport)
            publish(linkUp: interface.flatMap { links?.link(named: $0)?.isUp } ?? true, verdicts: detector.verdicts, at: now)
        }
        var usage = rusage()
        // 1: RUSAGE_THREAD (not imported into Swift), this thread's own use.
        if getrusage(1, &usage) == 0 {
            let seconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
            shared.withLock { $0.cpuSeconds = seconds }
        }
    }

    /// The CPU time the loop's thread used, once `run` has returned (for measurements).
    var cpuSeconds: Double? { shared.withLock { $0.cpuSeconds } }

    private func send(_ output: DetectorOutput, peers: [String: HostPort], _ transport: MembershipTransport) {
        for outgoing in output.messages {
            let datagram = MembershipDatagram(network: network, sender: host, message: outgoing.message)
            guard let address = peers[outgoing.to], let bytes = try? datagram.encoded() else { continue }
            transport.send(bytes, to: address)
        }
    }

    private func publish(linkUp: Bool, verdicts: [String: MemberState], at now: Date) {
        let state = NetworkHealth.state(link: linkUp, peers: verdicts)
        let changed = shared.withLock { shared -> NetworkHealthSnapshot? in
            let old = shared.snapshot
            guard old.state != state || old.linkUp != linkUp || old.peers != verdicts else { return nil }
            shared.snapshot = NetworkHealthSnapshot(network: network, state: state, linkUp: linkUp, peers: verdicts, time: now)
            return shared.snapshot
        }
        if let changed { continuation.yield(changed) }
    }

    private final class Shared: @unchecked Sendable {
        struct Value {
            var peers: [String: HostPort]
            var peersChanged = false
            var snapshot: NetworkHealthSnapshot
            var cpuSeconds: Double?
        }

        private let lock = NSLock()
        private var value: Value
        init(peers: [String: HostPort], snapshot: NetworkHealthSnapshot) { value = Value(peers: peers, snapshot: snapshot) }
        func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
    }

    private struct SendableTransport: @unchecked Sendable {
        let transport: MembershipTransport
        init(_ transport: MembershipTransport) { self.transport = transport }
    }
}
