import Foundation
import TetherModel

/// One host's failure detector on one network, after SWIM (Das, Gupta, Motivala 2002) and
/// HashiCorp's memberlist: a pure state machine. Ticks and received messages go in, with the time
/// as a value; messages to send come out; `state(of:)` is the verdict about each peer.
///
/// Each protocol period it probes one peer, in a shuffled round-robin order (dead ones too). A peer that does
/// not answer within the probe timeout is probed through `indirectProbes` others; one that stays
/// silent to the end of the period is suspected, and declared dead when the suspicion is not
/// refuted within the suspicion timeout. News travels piggybacked on the probes themselves, each
/// update a bounded number of times, so a host sends about two messages per period whatever the
/// size of the cluster. A live host that hears itself suspected refutes it by raising its
/// incarnation, which outranks the suspicion everywhere it spreads.
public struct FailureDetector: Sendable {
    public struct Settings: Sendable, Equatable {
        /// One probe per period (the spec's heartbeat interval).
        public var period: Duration
        /// How long a direct probe waits before asking others to probe.
        public var probeTimeout: Duration
        /// How long a suspected peer has to refute before it is declared dead.
        public var suspicionTimeout: Duration
        /// How many others probe on our behalf when a direct probe goes unanswered.
        public var indirectProbes: Int
        /// How many updates ride on one message.
        public var updatesPerMessage: Int

        public init(period: Duration = .milliseconds(500), probeTimeout: Duration = .milliseconds(200),
                    suspicionTimeout: Duration = .milliseconds(1500), indirectProbes: Int = 3, updatesPerMessage: Int = 6) {
            self.period = period
            self.probeTimeout = probeTimeout
            self.suspicionTimeout = suspicionTimeout
            self.indirectProbes = indirectProbes
            self.updatesPerMessage = updatesPerMessage
        }
    }

    struct Member: Sendable {
        var state: MemberState = .alive
        var incarnation: UInt64 = 0
        var suspectedAt: Date?
    }

    struct Probe: Sendable {
        var target: String
        var sequence: UInt64
        var sentAt: Date
        var askedOthers = false
    }

    /// A probe made for another host: its answer goes back to `requester` under their sequence.
    struct Relay: Sendable {
        var requester: String
        var sequence: UInt64
    }

    public let me: String
    public let settings: Settings
    private var members: [String: Member] = [:]
    private var incarnation: UInt64 = 0
    private var random: SplitMix64
    private var order: [String] = []
    private var nextInOrder = 0
    private var probe: Probe?
    private var nextProbeAt: Date?
    private var sequence: UInt64 = 0
    private var relays: [UInt64: Relay] = [:]
    /// News to spread, with how many more times each may ride on a message.
    private var news: [String: (update: MemberUpdate, left: Int)] = [:]
    /// The peers under suspicion, so a tick looks at them only, not at the whole cluster.
    private var suspects: Set<String> = []
    /// Verdicts changed while handling the current event.
    private var changed: [MemberUpdate] = []

    public init(me: String, peers: [String], settings: Settings = Settings(), seed: UInt64) {
        self.me = me
        self.settings = settings
        random = SplitMix64(seed: seed)
        for peer in peers where peer != me { members[peer] = Member() }
    }

    /// This host's verdict about `peer` (nil for a host it does not know).
    public func state(of peer: String) -> MemberState? { members[peer]?.state }

    /// Every peer's verdict.
    public var verdicts: [String: MemberState] { members.mapValues(\.state) }

    // MARK: events

    /// Time passes: timeouts are checked and, once per period, a probe goes out. Call it several
    /// times per period (the probe timeout is a fraction of it).
    public mutating func tick(at now: Date) -> DetectorOutput {
        var out: [Outgoing] = []
        if var current = probe {
            let waited = now.timeIntervalSince(current.sentAt)
            if !current.askedOthers, waited >= settings.probeTimeout.timeInterval {
                current.askedOthers = true
                probe = current
                for helper in helpers(for: current.target) {
                    out.append(Outgoing(to: helper, .pingRequest(sequence: current.sequence, target: current.target, updates: piggyback())))
                }
            }
            if waited >= settings.period.timeInterval {
                probe = nil
                suspect(current.target, at: now)
            }
        }
        for host in suspects.sorted() {
            guard let member = members[host], member.state == .suspect, let since = member.suspectedAt else {
                suspects.remove(host)
                continue
            }
            if now.timeIntervalSince(since) >= settings.suspicionTimeout.timeInterval {
                members[host]?.state = .dead
                suspects.remove(host)
                changed.append(MemberUpdate(host: host, state: .dead, incarnation: member.incarnation))
                spread(MemberUpdate(host: host, state: .dead, incarnation: member.incarnation))
            }
        }
        if probe == nil, nextProbeAt.map({ now >= $0 }) ?? true, let target = nextTarget() {
            sequence += 1
            probe = Probe(target: target, sequence: sequence, sentAt: now)
            nextProbeAt = now.addingTimeInterval(settings.period.timeInterval)
            out.append(Outgoing(to: target, .ping(sequence: sequence, updates: piggyback())))
        }
        return output(out)
    }

    public mutating func receive(_ message: MembershipMessage, from sender: String, at now: Date) -> DetectorOutput {
        for update in message.updates { merge(update, at: now) }
        heardFrom(sender)
        switch message {
        case .ping(let sequence, _):
            return output([Outgoing(to: sender, .ack(sequence: sequence, updates: piggyback()))])
        case .ack(let sequence, _):
            if let current = probe, current.sequence == sequence { probe = nil }
            if let relay = relays.removeValue(forKey: sequence) {
                return output([Outgoing(to: relay.requester, .ack(sequence: relay.sequence, updates: piggyback()))])
            }
            return output([])
        case .pingRequest(let theirs, let target, _):
            guard target != me else { return output([Outgoing(to: sender, .ack(sequence: theirs, updates: piggyback()))]) }
            sequence += 1
            relays[sequence] = Relay(requester: sender, sequence: theirs)
            return output([Outgoing(to: target, .ping(sequence: sequence, updates: piggyback()))])
        }
    }

    private mutating func output(_ messages: [Outgoing]) -> DetectorOutput {
        defer { changed = [] }
        return DetectorOutput(messages: messages, changes: changed)
    }

    // MARK: membership

    /// The cluster's members changed (the controller's view): new peers start alive, peers no
    /// longer listed are forgotten (with any probe of them and news about them).
    public mutating func updatePeers(_ peers: some Sequence<String>) {
        let wanted = Set(peers).subtracting([me])
        for gone in members.keys where !wanted.contains(gone) {
            members[gone] = nil
            suspects.remove(gone)
            news[gone] = nil
            if probe?.target == gone { probe = nil }
        }
        for peer in wanted where members[peer] == nil { members[peer] = Member() }
    }

    /// A message from a peer is evidence that it can reach us: a peer we doubted is alive again
    /// here. The doubt is spread again, fresh, so that the peer hears it (our answer carries it)
    /// and refutes it for everyone; after a partition heals, the old news may have run out.
    private mutating func heardFrom(_ sender: String) {
        guard var member = members[sender], member.state != .alive else { return }
        spread(MemberUpdate(host: sender, state: member.state, incarnation: member.incarnation))
        member.state = .alive
        member.suspectedAt = nil
        members[sender] = member
        suspects.remove(sender)
        changed.append(MemberUpdate(host: sender, state: .alive, incarnation: member.incarnation))
    }

    private mutating func suspect(_ host: String, at now: Date) {
        guard var member = members[host], member.state == .alive else { return }
        member.state = .suspect
        member.suspectedAt = now
        members[host] = member
        suspects.insert(host)
        changed.append(MemberUpdate(host: host, state: .suspect, incarnation: member.incarnation))
        spread(MemberUpdate(host: host, state: .suspect, incarnation: member.incarnation))
    }

    /// SWIM's ordering: news about a member counts when its incarnation is newer, or equal and
    /// graver (alive < suspect < dead). News that this host is suspect or dead is refuted.
    private mutating func merge(_ update: MemberUpdate, at now: Date) {
        if update.host == me {
            guard update.state != .alive, update.incarnation >= incarnation else { return }
            incarnation = update.incarnation + 1
            spread(MemberUpdate(host: me, state: .alive, incarnation: incarnation))
            return
        }
        guard var member = members[update.host] else { return }
        let newer = update.incarnation > member.incarnation
        let graver = update.incarnation == member.incarnation && Self.rank(update.state) > Self.rank(member.state)
        guard newer || graver else { return }
        let was = member.state
        member.incarnation = update.incarnation
        member.state = update.state
        member.suspectedAt = update.state == .suspect ? now : nil
        members[update.host] = member
        if was != update.state { changed.append(update) }
        if update.state == .suspect { suspects.insert(update.host) } else { suspects.remove(update.host) }
        spread(update)
    }

    private static func rank(_ state: MemberState) -> Int {
        switch state {
        case .alive: 0
        case .suspect: 1
        case .dead: 2
        }
    }

    // MARK: choices and news

    /// The next peer to probe: a shuffled round-robin over every peer, so each is probed within a
    /// bounded number of periods. Peers held dead are probed too: the cluster's members are
    /// fixed (the controller's view), and a network that comes back must be seen to.
    private mutating func nextTarget() -> String? {
        // Twice at most: the rest of this round (skipping peers removed since it was shuffled),
        // then a fresh round.
        for _ in 0..<2 {
            while nextInOrder < order.count {
                let candidate = order[nextInOrder]
                nextInOrder += 1
                if members[candidate] != nil { return candidate }
            }
            order = members.keys.sorted().shuffled(using: &random)
            nextInOrder = 0
        }
        return nil
    }

    private mutating func helpers(for target: String) -> [String] {
        let candidates = members.filter { $0.key != target && $0.value.state == .alive }.keys.sorted()
        return Array(candidates.shuffled(using: &random).prefix(settings.indirectProbes))
    }

    /// Each update is sent about 3·log2(n) times: enough to reach everyone with high probability.
    private mutating func spread(_ update: MemberUpdate) {
        let transmissions = 3 * max(1, Int(log2(Double(members.count + 1)).rounded(.up)))
        news[update.host] = (update, transmissions)
    }

    /// The updates sent least so far ride on the next message.
    private mutating func piggyback() -> [MemberUpdate] {
        guard !news.isEmpty else { return [] }
        let chosen = news.sorted { ($0.value.left, $0.key) > ($1.value.left, $1.key) }.prefix(settings.updatesPerMessage)
        var updates: [MemberUpdate] = []
        for (host, entry) in chosen {
            updates.append(entry.update)
            if entry.left <= 1 { news[host] = nil } else { news[host]?.left = entry.left - 1 }
        }
        return updates
    }
}
