import Foundation
import Logging
import ServiceLifecycle
import TetherClient
import TetherModel

/// The host's own measure of its health, for the heartbeat.
public protocol HealthSource: Sendable {
    func report() async -> HostHealthReport
    /// The peers to watch, as the controller last listed them.
    func updatePeers(_ peers: [PeerHost]) async
    /// Whether the health changed since the last call (then the heartbeat goes at once).
    func takeChange() -> Bool
}

/// Keeps the controller current: registers when anything changed (devices plugged or pulled,
/// a VM arrived, left, or changed state) and heartbeats otherwise. A plug or unplug seen by
/// libusb hotplug wakes it at once; without hotplug, the next heartbeat's probe sees the change.
/// A controller that forgot this host (restarted on an empty store) gets the registration again.
public struct AgentLoop: Service {
    let agent: HostAgentService
    let controller: ControllerClient
    let interval: Duration

    /// How long after registering again a storage loss still believed is reported again: a
    /// path monitor's period and request timeout (500 ms and 1.5 s), time for it to see paths
    /// that came back with the host's links. A host back from an isolation otherwise reported
    /// the loss that healed with it, before its monitors probed again, and the controller,
    /// hearing it again, moved its VMs (the lab's fencing test, on a slower machine).
    static let storageRecheck: Duration = .seconds(2)
    let changes: DeviceChanges
    let logger: Logger
    /// What the host measures of its networks and paths, sent with every heartbeat; it learns
    /// its peers from the controller's answers.
    let health: (any HealthSource)?
    /// Where the cluster view goes, and whose moves made without the controller are handed back.
    let peerFailover: PeerFailover?

    public init(agent: HostAgentService, controller: ControllerClient, interval: Duration, changes: DeviceChanges,
                health: (any HealthSource)? = nil, peerFailover: PeerFailover? = nil, logger: Logger) {
        self.agent = agent
        self.peerFailover = peerFailover
        self.health = health
        self.controller = controller
        self.interval = interval
        self.changes = changes
        self.logger = logger
    }

    public func run() async throws {
        var sent: AgentRegistration?
        // The revision of `sent` as the controller accepted it; counted from a random start so
        // that this process's registrations cannot pass for its predecessor's.
        var revision = Int.random(in: 1...(1 << 48))
        // The USB inventory is taken at most every 5 s unless a plug or unplug woke the loop:
        // heartbeats go every 500 ms, and a libusb enumeration each time would be most of the
        // agent's CPU.
        var inventoried: ContinuousClock.Instant?
        var woken = false
        var trafficSent = TrafficReport()
        var metered: [DeviceRate] = []
        var beaten = ContinuousClock.now
        // When the controller last took a registration after none stood (a start, or a return
        // from being cut off): see `storageRecheck`.
        var registeredAgain: ContinuousClock.Instant?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if woken || inventoried.map({ ContinuousClock.now - $0 >= .seconds(5) }) ?? true {
                _ = await agent.refreshDevices()
                inventoried = .now
            }
            let measured = await health?.report()
            await agent.checkStalledDisks(paths: measured?.datastores ?? [])
            if let measured { await agent.checkNetworks(measured) }
            // Fenced VMs are resolved (quit or resumed) before the host lists its VMs again; until
            // the controller has answered where they run, the host does not register.
            if sent == nil, await agent.hasFencedVMs, !(await learnWhereFencedVMsRun()) {
                try? await Task.sleep(for: min(.milliseconds(200), interval))
                continue
            }
            let current = await agent.registration()
            do {
                if current != sent {
                    var stamped = current
                    revision += 1
                    stamped.revision = revision
                    try await controller.register(stamped)
                    AgentMetrics.heartbeat(ok: true)
                    if sent == nil {
                        logger.notice("registered with the controller")
                        registeredAgain = .now
                    }
                    sent = current
                } else {
                    let rates = await agent.traffic()
                    trafficSent.sending(rates)
                    beaten = .now
                    let beat = Heartbeat(health: await health?.report(), viewDigest: await peerFailover?.viewDigest,
                                         traffic: rates.isEmpty ? nil : rates, registered: revision)
                    AgentMetrics.beat(current, health: beat.health, traffic: rates, previousTraffic: metered)
                    metered = rates
                    let reply = try await controller.heartbeat(host: current.host, beat)
                    AgentMetrics.heartbeat(ok: true)
                    await health?.updatePeers(reply.peers)
                    await peerFailover?.heard(reply, at: Date())
                    await handOverMoves()
                    if registeredAgain.map({ ContinuousClock.now - $0 >= Self.storageRecheck }) ?? true {
                        await agent.reportStorageLossAgain()
                    }
                }
            } catch where error.code == .notFound {
                // The controller does not know this host, or holds an older registration of it:
                // register next time round.
                if sent != nil { logger.notice("registering again: \(error.message)") }
                sent = nil
            } catch {
                AgentMetrics.heartbeat(ok: false)
                logger.warning("controller unreachable: \(error)")
                sent = nil
            }
            // Until the next heartbeat, or a device plugged or pulled, whichever comes first.
            let wake = ContinuousClock.now + interval
            woken = false
            while ContinuousClock.now < wake, !Task.isCancelled {
                if changes.take() {
                    woken = true
                    break
                }
                if health?.takeChange() ?? false { break }
                // At most five early beats a second: a bursty device must not set the pace.
                if sent != nil, ContinuousClock.now - beaten >= .milliseconds(200), trafficSent.moved(await agent.traffic()) { break }
                try? await Task.sleep(for: min(.milliseconds(50), interval))
            }
        }
        changes.stop()
        await controller.api.close()
    }

    /// Back in touch after an isolation, with VMs fenced: the cluster view first (a heartbeat's
    /// answer), so that each fenced copy is quit or resumed before the host lists its VMs again;
    /// listed before, a VM restarted elsewhere would show twice, and one left out would vanish
    /// from the cluster's status for a moment.
    /// Answers whether the host may register now: the fenced VMs are let go, or the controller
    /// does not know this host (then there is no view to wait for).
    private func learnWhereFencedVMsRun() async -> Bool {
        guard let peerFailover else { return true }
        let beat = Heartbeat(health: await health?.report(), viewDigest: await peerFailover.viewDigest)
        do {
            let reply = try await controller.heartbeat(host: agent.host, beat)
            await peerFailover.heard(reply, at: Date())
            await peerFailover.releaseFenced()
            return true
        } catch {
            return error.code == .notFound
        }
    }

    /// The moves this host finished on its own go to the controller's journal once it answers.
    private func handOverMoves() async {
        guard let peerFailover else { return }
        let moves = await peerFailover.unreported()
        guard !moves.isEmpty else { return }
        do {
            let adopted = try await controller.reportMoves(host: agent.host, moves)
            await peerFailover.markReported(moves.map(\.id))
            logger.notice("handed the moves made without the controller to it", metadata: ["journaled": "\(adopted)"])
        } catch {
            logger.warning("could not hand this host's own moves to the controller yet: \(error)")
        }
    }
}
