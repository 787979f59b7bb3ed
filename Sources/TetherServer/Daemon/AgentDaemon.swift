import Channel
import Foundation
import Hummingbird
import HummingbirdTLS
import Hypervisor
import Logging
import ServiceLifecycle
import TetherClient
import TetherModel
import USBProbe

/// `tetherd --role agent`: runs the host's VMs, serves the agent API over mutual TLS, and keeps
/// the controller current (registers on start and on every change, heartbeats in between).
public enum AgentDaemon {
    public static func run(_ section: TetherdConfiguration.AgentSection, logger: Logger) async throws {
        MetricsEndpoint.bootstrap()
        let identity = try TLSIdentity(directory: section.tls.directory, name: section.tls.name ?? section.host)
        var migration = MigrationOptions(downtimeLimitMs: section.migrationDowntimeLimitMs)
        migration.maxBandwidthBytesPerSecond = section.migrationMaxBandwidthMBps.map { $0 * 1_000_000 }
        let settings = AgentSettings(host: section.host, listen: section.listen, publicAddress: section.publicAddress,
                                     cpus: section.cpus ?? ProcessInfo.processInfo.activeProcessorCount,
                                     memoryMiB: section.memoryMiB ?? Int(ProcessInfo.processInfo.physicalMemory >> 20),
                                     networks: section.networks, datastores: section.datastores, stateDirectory: section.stateDirectory,
                                     vms: section.vms.map(\.managed), exporterProgram: section.exporter, migration: migration,
                                     heartbeatInterval: .milliseconds(Int(section.heartbeatSeconds * 1000)))
        let agent = HostAgentService(settings: settings, identity: identity, logger: logger, probeDevices: Self.probe)
        try await agent.start()
        let controller = ControllerClient(APIClient(.tls(section.controller), identity: identity))
        var services: [any Service] = [
            Application(router: AgentRoutes.router(agent, callers: [section.controllerName]),
                        server: try .tls(.http1(), tlsConfiguration: identity.configuration(server: true)),
                        configuration: .init(address: .hostname(section.listen.host, port: section.listen.port), serverName: "tetherd-agent"),
                        logger: logger),
            AgentLoop(agent: agent, controller: controller, interval: settings.heartbeatInterval,
                      changes: DeviceChanges.watch(logger: logger, events: section.eventsSocket, libusbHotplug: section.libusbHotplug),
                      logger: logger),
        ]
        if let metrics = section.metrics {
            services.append(Application(router: MetricsEndpoint.router(), configuration: .init(address: .hostname(metrics.host, port: metrics.port)),
                                        logger: logger))
        }
        logger.notice("agent ready", metadata: ["host": "\(section.host)", "listen": "\(section.listen)", "controller": "\(section.controller)"])
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

    /// Devices with figures; one whose descriptors cannot be read is left out (and logged by
    /// the probe): nothing can be decided for it.
    @Sendable static func probe() throws(TetherError) -> [RegisteredDevice] {
        try USBInventory.probe().devices.compactMap { report in
            guard report.error == nil, report.deviceClass != 9 else { return nil }   // hubs are not attachable
            return RegisteredDevice(id: report.portPath, vendorId: String(format: "%04x", report.vendorId),
                                    productId: String(format: "%04x", report.productId), serial: report.serial, product: report.product,
                                    periodicBytesPerSecond: report.periodicBytesPerSecond ?? 0, bus: report.bus, address: report.address)
        }
    }
}

/// Keeps the controller current: registers when anything changed (devices plugged or pulled,
/// a VM arrived, left, or changed state) and heartbeats otherwise. A plug or unplug seen by
/// libusb hotplug wakes it at once; without hotplug, the next heartbeat's probe sees the change.
/// A controller that forgot this host (restarted on an empty store) gets the registration again.
struct AgentLoop: Service {
    let agent: HostAgentService
    let controller: ControllerClient
    let interval: Duration
    let changes: DeviceChanges
    let logger: Logger

    func run() async throws {
        var sent: AgentRegistration?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            _ = await agent.refreshDevices()
            let current = await agent.registration()
            do {
                if current != sent {
                    try await controller.register(current)
                    if sent == nil { logger.notice("registered with the controller") }
                    sent = current
                } else {
                    try await controller.heartbeat(host: current.host)
                }
            } catch where error.code == .notFound {
                sent = nil   // the controller does not know this host: register next time round
            } catch {
                logger.warning("controller unreachable: \(error)")
                sent = nil
            }
            // Until the next heartbeat, or a device plugged or pulled, whichever comes first.
            let wake = ContinuousClock.now + interval
            while ContinuousClock.now < wake, !changes.take(), !Task.isCancelled {
                try? await Task.sleep(for: min(.milliseconds(50), interval))
            }
        }
        changes.stop()
        await controller.api.close()
    }
}

/// libusb hotplug on a thread of its own (its event loop blocks), raising a flag the agent's
/// loop reads.
final class DeviceChanges: @unchecked Sendable {
    private let lock = NSLock()
    private var changed = false
    private var stopped = false

    /// libusb hotplug, and `events`: a datagram socket the udev rules' `tether notify-agent` writes to.
    static func watch(logger: Logger, events: String?, libusbHotplug: Bool) -> DeviceChanges {
        let changes = DeviceChanges()
        if let events {
            do {
                try changes.listen(events, logger: logger)
            } catch {
                logger.warning("cannot listen for udev notifications on \(events): \(error)")
            }
        }
        guard libusbHotplug else { return changes }
        Thread.detachNewThread {
            do {
                let watcher = try HotplugWatcher()
                try watcher.run(shouldStop: { changes.lock.withLock { changes.stopped } }) { event in
                    logger.info("USB hotplug: \(event)")
                    changes.mark()
                }
            } catch {
                logger.notice("no libusb hotplug (\(error)); devices are re-probed at every heartbeat")
            }
        }
        return changes
    }

    /// Reads datagrams on `path` (each one means "something changed") on a thread of its own.
    func listen(_ path: String, logger: Logger) throws(TetherError) {
        let fd = try AgentEvents.bind(path)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 512)
            while !self.lock.withLock({ self.stopped }) {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    logger.info("udev: \(String(decoding: buffer[0..<n], as: UTF8.self))")
                    self.mark()
                }
            }
            close(fd)
        }
    }

    func mark() { lock.withLock { changed = true } }

    /// True once after each change.
    func take() -> Bool {
        lock.withLock {
            defer { changed = false }
            return changed
        }
    }

    func stop() { lock.withLock { stopped = true } }
}
