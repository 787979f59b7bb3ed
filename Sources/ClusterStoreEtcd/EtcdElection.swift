import ClusterStore
import Foundation
import Synchronization
import TetherModel

/// Leader election among controllers sharing an etcd store, by lease.
///
/// Each controller holds a lease (`ttl` seconds, renewed every quarter of it) under which it
/// announces itself (`controllers/NAME`). The leader is whoever created the `leader` key under
/// its lease; the key vanishes when the lease expires (its holder died, paused, or lost etcd),
/// and a standby, trying every `retry`, creates it next. The key's create revision is the
/// leader's fence (`EtcdClusterStore.Fence`): every write of the leader compares it.
///
/// A leader stops acting *before* etcd expires its lease: it counts the lease from the moment
/// it sent its last renewal that etcd confirmed (etcd counts from when it received it, later),
/// and gives up `margin` before that runs out. `lost()` returns then.
public final class EtcdElection: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The lease: how long a dead leader holds the cluster up. etcd's least is 2 s at its
        /// default election timeout.
        public var ttl: Duration = .seconds(2)
        /// How often a standby tries to lead, and reads who does.
        public var retry: Duration = .milliseconds(200)
        /// How long before its lease runs out a leader that cannot renew it stops acting.
        public var margin: Duration = .milliseconds(300)

        public init() {}
    }

    public let client: EtcdClient
    let keys: EtcdKeys
    public let me: ControllerStatus
    public let settings: Settings
    private let state = Mutex(State())

    struct State {
        var lease: Int64?
        /// Until when this controller's lease surely holds (counted from a renewal's sending).
        var validUntil: ContinuousClock.Instant?
        var fence: EtcdClusterStore.Fence?
        var leader: ControllerStatus?
        var closed = false
    }

    public init(client: EtcdClient, prefix: String = "/tether", me: ControllerStatus, settings: Settings = Settings()) {
        self.client = client
        self.keys = EtcdKeys(prefix: prefix)
        self.me = me
        self.settings = settings
    }

    /// The leader as last read (or this controller, while it leads).
    public var leader: ControllerStatus? { state.withLock { $0.leader } }

    /// This controller's fence while it leads, nil otherwise.
    public var fence: EtcdClusterStore.Fence? { state.withLock { $0.fence } }

    // MARK: leading

    /// Waits until this controller leads, renewing its lease meanwhile; returns its fence. Keeps
    /// trying through etcd's failures (each is logged by `onError`) until cancelled.
    public func lead(onError: @Sendable (TetherError) -> Void = { _ in }) async throws(TetherError) -> EtcdClusterStore.Fence {
        while true {
            if Task.isCancelled { throw TetherError(.interrupted, "\(me.name) stopped before it could lead") }
            do {
                if let fence = try await campaign() { return fence }
            } catch {
                onError(error)
            }
            try? await Task.sleep(for: settings.retry)
        }
    }

    /// One try: renews (or takes) the lease, then creates the leader key unless it exists.
    func campaign() async throws(TetherError) -> EtcdClusterStore.Fence? {
        let lease = try await holdLease()
        var seat = me
        seat.leader = true
        seat.since = Date()
        let reply = try await client.txn(.init(
            compare: [.init(key: keys.leader, target: .create, result: .equal, number: 0)],
            success: [.put(.init(key: keys.leader, value: try EtcdClusterStore.json(seat), lease: lease))],
            failure: [.range(.init(key: keys.leader))]))
        guard reply.succeeded, let revision = reply.header?.revision else {
            let leader = reply.responses.first??.kvs.first.flatMap { try? APIJSON.decoder().decode(ControllerStatus.self, from: $0.value) }
            state.withLock { $0.leader = leader }
            return nil
        }
        let fence = EtcdClusterStore.Fence(createRevision: revision, holder: me.name)
        state.withLock { $0.fence = fence; $0.leader = seat }
        return fence
    }

    /// Returns when this controller must stop acting as the leader: its lease is about to run
    /// out unrenewed, or etcd says it is gone. The lease is dropped with the leadership (and
    /// revoked, if etcd can still be told): the next term is under a new lease and a new fence,
    /// so a write still on its way from this term is refused.
    public func lost() async {
        while !Task.isCancelled {
            let (until, fence) = state.withLock { ($0.validUntil, $0.fence) }
            guard let until, fence != nil, ContinuousClock.now < until - settings.margin else { break }
            try? await Task.sleep(for: min(.milliseconds(50), until - settings.margin - ContinuousClock.now))
        }
        stepDown()
    }

    /// Stops leading now (a term that could not start): the lease goes, and with it the key.
    public func stepDown() {
        let lease = state.withLock { s -> Int64? in
            let lease = s.lease
            s.lease = nil; s.validUntil = nil; s.fence = nil
            return lease
        }
        // In the background: a leader cut off from etcd must not wait on it to stop acting.
        if let lease { Task { [client] in try? await client.revoke(lease) } }
    }

    /// Gives up leading and the lease (at once, so that a standby leads without waiting for it
    /// to expire). Best effort: an unreachable etcd expires it anyway.
    public func resign() async {
        let lease = state.withLock { s -> Int64? in
            let lease = s.lease
            s.lease = nil; s.validUntil = nil; s.fence = nil; s.closed = true
            return lease
        }
        if let lease { try? await client.revoke(lease) }
    }

    // MARK: the lease

    /// The lease, renewed; granted anew (and the controller announced under it) when it is gone.
    private func holdLease() async throws(TetherError) -> Int64 {
        if let lease = state.withLock({ $0.lease }) { return lease }
        let sent = ContinuousClock.now
        let grant = try await client.grant(ttl: Int64(settings.ttl.components.seconds))
        try await client.txn(.init(compare: [], success: [.put(.init(key: keys.controller(me.name), value: try EtcdClusterStore.json(me),
                                                                         lease: grant.id))], failure: []))
        state.withLock { $0.lease = grant.id; $0.validUntil = sent + .seconds(grant.ttl) }
        return grant.id
    }

    /// Renews the lease every quarter of its time until cancelled. A renewal that fails leaves
    /// the lease counting down; one that finds it gone forgets it (and any leadership with it).
    public func keepAlive(onError: @Sendable (TetherError) -> Void = { _ in }) async {
        let every = settings.ttl / 4
        while !Task.isCancelled {
            if let lease = state.withLock({ $0.closed ? nil : $0.lease }) {
                let sent = ContinuousClock.now
                do {
                    if let renewed = try await client.keepAlive(lease, timeout: every) {
                        state.withLock { if $0.lease == lease { $0.validUntil = sent + .seconds(renewed.ttl) } }
                    } else {
                        state.withLock { if $0.lease == lease { $0.lease = nil; $0.validUntil = nil; $0.fence = nil } }
                    }
                } catch {
                    onError(error)
                }
            }
            try? await Task.sleep(for: every)
        }
    }

    // MARK: reading

    /// Every controller that holds a lease, the leader marked, by name.
    public func controllers() async throws(TetherError) -> [ControllerStatus] {
        let r = keys.controllers
        let reply = try await client.txn(.init(compare: [], success: [.range(.init(key: r.key, rangeEnd: r.end)),
                                                                      .range(.init(key: keys.leader))], failure: []))
        let leader = reply.responses.count == 2 ? reply.responses[1]?.kvs.first.flatMap {
            try? APIJSON.decoder().decode(ControllerStatus.self, from: $0.value)
        } : nil
        var members = (reply.responses.first??.kvs ?? []).compactMap { try? APIJSON.decoder().decode(ControllerStatus.self, from: $0.value) }
        for i in members.indices where members[i].name == leader?.name {
            members[i].leader = true
            members[i].since = leader?.since
        }
        state.withLock { $0.leader = leader }
        return members.sorted { $0.name < $1.name }
    }
}
