import Channel
import ClusterStore
import Controller
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle
import TetherClient
import TetherHTTP
import TetherModel

/// `tetherd --role controller`: the store, the controller, its APIs (unix socket, mutual TLS),
/// metrics; on start it drives every operation the journal left unfinished.
public enum ControllerDaemon {
    public static func run(_ section: TetherdConfiguration.ControllerSection, logger: Logger) async throws {
        MetricsEndpoint.bootstrap()
        try FileManager.default.createDirectory(atPath: (section.store as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let lease: any ControllerLease = try await FileControllerLease(path: section.store + ".lock")
        let store = try SQLiteClusterStore(path: section.store)
        let identity = try section.tls.map { try TLSIdentity(directory: $0.directory, name: $0.name ?? "controller") }
        var settings = Controller.Settings(policy: .init(migrateThresholdPercent: section.migrateThresholdPercent),
                                           heartbeatTimeout: section.heartbeatTimeoutSeconds, stepDeadline: section.stepDeadlineSeconds,
                                           journaled: FaultInjection.journalHook())
        settings.judgement = .init(heardWithin: section.heartbeatTimeoutSeconds, deadAfter: section.deadAfterSeconds)
        settings.managementMigrationPercent = section.managementMigrationPercent
        settings.crashRestartLimit = section.crashRestartLimit
        settings.crashWindow = section.crashWindowSeconds
        let controller = try await Controller(store: store, settings: settings) { registration in
            AgentClient(APIClient(.tls(registration.agentAddress), identity: identity), host: registration.host)
        }
        let resumed = try await controller.recover()
        if !resumed.isEmpty { logger.notice("driving unfinished operations from the journal", metadata: ["operations": "\(resumed)"]) }

        var services: [any Service] = [OperationRunner(controller), HealthWatch(controller: controller),
                                       try localAPI(socket: section.socket, router: ControllerRoutes.router(controller), logger: logger)]
        if let listen = section.listen {
            guard let identity else {
                throw TetherError(.invalidArgument, "controller.listen needs controller.tls (a `tether certs` directory): agents talk mutual TLS")
            }
            services.append(Application(router: ControllerRoutes.router(controller),
                                        server: try .tls(.http1(), tlsConfiguration: identity.configuration(server: true)),
                                        configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "tetherd"),
                                        logger: logger))
        }
        if let metrics = section.metrics {
            services.append(Application(router: MetricsEndpoint.router(), configuration: .init(address: .hostname(metrics.host, port: metrics.port)),
                                        logger: logger))
        }
        logger.notice("controller ready", metadata: ["socket": "\(section.socket)", "listen": "\(section.listen?.description ?? "-")",
                                                     "store": "\(section.store)"])
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // The lease is held until the services have stopped: a successor must not start while
        // this one still answers (or removes the socket file on its way out).
        do {
            try await group.run()
        } catch {
            await lease.release()
            throw error
        }
        await lease.release()
    }

    /// The unix socket API: a stale socket file from a killed daemon is removed first, and the
    /// socket is for root and the socket's group only.
    static func localAPI(socket: String, router: Router<APIContext>, logger: Logger) throws -> some Service {
        try FileManager.default.createDirectory(atPath: (socket as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(socket)
        return Application(router: router, configuration: .init(address: .unixDomainSocket(path: socket), serverName: "tetherd"),
                           onServerRunning: { _ in chmod(socket, 0o660) }, logger: logger)
    }
}
