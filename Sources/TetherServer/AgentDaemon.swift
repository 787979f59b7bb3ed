import Channel
import Foundation
import Hummingbird
import HummingbirdTLS
import Hypervisor
import Logging
import ServiceLifecycle
import Agent
import TetherClient
import TetherHTTP
import TetherModel

/// `tetherd --role agent`: runs the host's VMs, serves the agent API over mutual TLS, and keeps
/// the controller current (registers on start and on every change, heartbeats in between).
public enum AgentDaemon {
    public static func run(_ section: TetherdConfiguration.AgentSection, logger: Logger) async throws {
        MetricsEndpoint.bootstrap()
        let identity = try TLSIdentity(directory: section.tls.directory, name: section.tls.name ?? section.host)
        var migration = MigrationOptions(downtimeLimitMs: section.migrationDowntimeLimitMs)
        migration.maxBandwidthBytesPerSecond = section.migrationMaxBandwidthMBps.map { $0 * 1_000_000 }
        var settings = AgentSettings(host: section.host, listen: section.listen, publicAddress: section.publicAddress,
                                     cpus: section.cpus ?? ProcessInfo.processInfo.activeProcessorCount,
                                     memoryMiB: section.memoryMiB ?? Int(ProcessInfo.processInfo.physicalMemory >> 20),
                                     networks: section.networks, datastores: section.datastores, stateDirectory: section.stateDirectory,
                                     vms: section.vms.map { $0.managed(datastores: section.datastores) }, exporterProgram: section.exporter, migration: migration,
                                     migrationTLS: MigrationTLS(clusterDirectory: section.tls.directory, name: section.tls.name ?? section.host),
                                     heartbeatInterval: .milliseconds(Int(section.heartbeatSeconds * 1000)))
        if let crashDirectory = section.crashDirectory { settings.crashDirectory = crashDirectory }
        settings.imageDirectories = section.imageDirectories ?? ["/var/lib/tether/images"]
        settings.ownImageFiles = section.ownImageFiles
        // Isolation is told from the networks' peers: a host without network addresses cannot
        // tell it, so it registers that it does not fence.
        if section.networks.values.contains(where: { $0.address != nil }) {
            settings.fencing = FencingPolicy(response: section.isolationResponse, deadlineSeconds: section.isolationDeadlineSeconds)
        }
        let agent = HostAgentService(settings: settings, identity: identity, logger: logger, probeDevices: DeviceInventory.probe)
        try await agent.start()
        let timeouts = StorageTimeouts.describe(retries: StorageTimeouts.tcpRetries2(), keepAlive: StorageTimeouts.keepAlive())
        if !section.datastores.allSatisfy(\.paths.isEmpty) {
            if timeouts.ok { logger.notice("\(timeouts.text)") } else { logger.warning("\(timeouts.text)") }
        }
        let controller = ControllerClient(APIClient(servers: ([section.controller] + section.otherControllers).map { .tls($0) }, identity: identity))
        let health = AgentHealth(host: section.host, networks: section.networks, datastores: section.datastores,
                                 settings: AgentHealth.Settings(period: .milliseconds(Int(section.heartbeatSeconds * 1000))),
                                 reportFile: "\(section.stateDirectory)/health.json", logger: logger) { datastore, path, state, lastSuccess in
            await agent.pathChanged(datastore: datastore, path: path, to: state, lastSuccess: lastSuccess)
        }
        await agent.reportFaults(seenFromOutsideToo: section.selfTriggeredFailover) { report throws(TetherError) in
            // Stamped as it leaves: a request held up on a dead network arrives late, and the
            // controller must be able to tell.
            var report = report
            report.observedAt = report.observedAt ?? Date()
            return try await controller.reportFault(report)
        }
        let peerFailover = try PeerFailover(agent: agent, stateDirectory: section.stateDirectory, connectPeer: { peer in
            // A peer's agent on its migration address: what still connects two hosts whose
            // management network is gone.
            guard let address = peer.addresses[.migration], let port = peer.agentPort else { return nil }
            return AgentClient(APIClient(.tls(HostPort(host: address, port: port)), identity: identity, timeout: .seconds(20)), host: peer.host)
        }, silence: section.heartbeatSeconds * 4, movesOnOwn: section.selfTriggeredFailover,
           isolationDeadline: settings.fencing?.fences == true ? section.isolationDeadlineSeconds : nil, logger: logger,
           journaled: FaultInjection.journalHook())
        var services: [any Service] = [
            Application(router: AgentRoutes.router(agent, callers: [section.controllerName]),
                        server: LoopAffineServer.tls(identity.configuration(server: true)),
                        configuration: .init(address: .hostname(section.listen.host, port: section.listen.port), serverName: "tetherd-agent"),
                        logger: logger),
            AgentLoop(agent: agent, controller: controller, interval: settings.heartbeatInterval,
                      changes: DeviceChanges.watch(logger: logger, events: section.eventsSocket, libusbHotplug: section.libusbHotplug),
                      health: health, peerFailover: peerFailover, logger: logger),
            health,
            // Fencing always; moving its own VMs on a lost management network only with
            // self-triggered flows.
            PeerFailoverWatch(failover: peerFailover, health: health),
        ]
        if let peerListen = section.effectivePeerListen {
            // The cluster's hosts may call this one here: a host that lost its management
            // network moves its VMs by asking its targets itself.
            let controllerName = section.controllerName
            services.append(Application(router: AgentRoutes.router(agent) { await peerFailover.callers(besides: controllerName) },
                                        server: LoopAffineServer.tls(identity.configuration(server: true)),
                                        configuration: .init(address: .hostname(peerListen.host, port: peerListen.port), serverName: "tetherd-agent-peers"),
                                        logger: logger))
        }
        if let metrics = section.metrics {
            services.append(Application(router: MetricsEndpoint.router(), server: LoopAffineServer.http1(), configuration: .init(address: .hostname(metrics.host, port: metrics.port)),
                                        logger: logger))
        }
        logger.notice("agent ready", metadata: ["host": "\(section.host)", "listen": "\(section.listen)", "controller": "\(section.controller)",
                                                "peers": "\(section.effectivePeerListen.map(\.description) ?? "on listen")"])
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await agent.shutdown(vmsToo: section.stopVMsOnExit)
            throw error
        }
        await agent.shutdown(vmsToo: section.stopVMsOnExit)
    }
}
