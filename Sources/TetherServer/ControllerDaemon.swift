import Channel
import ClusterStore
import ClusterStoreEtcd
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
        let identity = try section.tls.map { try TLSIdentity(directory: $0.directory, name: $0.name ?? "controller") }
        let makeController: @Sendable (any ClusterStore) async throws(TetherError) -> Controller = { store throws(TetherError) in
            try await Controller(store: store, settings: settings(section)) { registration in
                AgentClient(APIClient(.tls(registration.agentAddress), identity: identity), host: registration.host)
            }
        }
        switch try StoreAddress(section.store) {
        case .sqlite(let path):
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let lease: any ControllerLease = try await FileControllerLease(path: path + ".lock")
            let store = try SQLiteClusterStore(path: path)
            let controller = try await makeController(store)
            let resumed = try await controller.recover()
            if !resumed.isEmpty { logger.notice("driving unfinished operations from the journal", metadata: ["operations": "\(resumed)"]) }
            let me = ControllerStatus(name: section.name, leader: true, address: section.listen, socket: section.socket)
            let seat = ControllerSeat(name: section.name, storeAddress: path, store: store, leading: controller, members: { [me] })
            let services: [any Service] = [OperationRunner(controller), HealthWatch(controller: controller)]
            // The lease is held until the services have stopped: a successor must not start while
            // this one still answers (or removes the socket file on its way out).
            do {
                try await serve(section, seat: seat, identity: identity, extra: services, logger: logger)
            } catch {
                await lease.release()
                throw error
            }
            await lease.release()
        case .etcd(let endpoints):
            let tls = section.etcd?.ca.map { EtcdClient.TLSFiles(ca: $0, cert: section.etcd?.cert ?? "", key: section.etcd?.key ?? "") }
            let client = try EtcdClient(endpoints: endpoints, tls: tls)
            let prefix = section.etcd?.prefix ?? "/tether"
            let store = EtcdClusterStore(client: client, prefix: prefix)
            var electionSettings = EtcdElection.Settings()
            electionSettings.ttl = .seconds(section.etcd?.leaseSeconds ?? 2)
            let election = EtcdElection(client: client, prefix: prefix,
                                        me: ControllerStatus(name: section.name, leader: false, address: section.listen, socket: section.socket,
                                                             since: Date()),
                                        settings: electionSettings)
            let seat = ControllerSeat(name: section.name, storeAddress: StoreAddress.etcd(endpoints: endpoints).description, store: store,
                                      members: { () async throws(TetherError) in try await election.controllers() })
            let leadership = Leadership(election: election, seat: seat, store: store, makeController: makeController, logger: logger)
            defer { Task { await election.resign(); await client.close() } }
            try await serve(section, seat: seat, identity: identity, extra: [leadership], logger: logger)
            await election.resign()
        }
    }

    static func settings(_ section: TetherdConfiguration.ControllerSection) -> Controller.Settings {
        var settings = Controller.Settings(policy: .init(migrateThresholdPercent: section.migrateThresholdPercent),
                                           heartbeatTimeout: section.heartbeatTimeoutSeconds, stepDeadline: section.stepDeadlineSeconds,
                                           journaled: FaultInjection.journalHook())
        settings.judgement = .init(heardWithin: section.heartbeatTimeoutSeconds, deadAfter: section.deadAfterSeconds)
        settings.managementMigrationPercent = section.managementMigrationPercent
        settings.crashRestartLimit = section.crashRestartLimit
        settings.crashWindow = section.crashWindowSeconds
        settings.devices = section.devices.settings
        return settings
    }

    /// The APIs (socket, mutual TLS, metrics) and `extra` services, until SIGTERM or SIGINT.
    static func serve(_ section: TetherdConfiguration.ControllerSection, seat: ControllerSeat, identity: TLSIdentity?,
                      extra: [any Service], logger: Logger) async throws {
        var services = extra
        let access = LocalAccess(operatorGroups: Set(section.localAccess.operators.compactMap(LocalAccess.groupID)),
                                 viewerGroups: Set(section.localAccess.viewers.compactMap(LocalAccess.groupID)))
        services.append(try localAPI(socket: section.socket, router: ControllerRoutes.router(seat, access: access), logger: logger))
        if let listen = section.listen {
            guard let identity else {
                throw TetherError(.invalidArgument, "controller.listen needs controller.tls (a `tether certs` directory): agents talk mutual TLS")
            }
            services.append(Application(router: ControllerRoutes.router(seat),
                                        server: LoopAffineServer.tls(identity.configuration(server: true)),
                                        configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "tetherd"),
                                        logger: logger))
        }
        if let metrics = section.metrics {
            services.append(Application(router: MetricsEndpoint.router(), server: LoopAffineServer.http1(), configuration: .init(address: .hostname(metrics.host, port: metrics.port)),
                                        logger: logger))
        }
        if let web = section.web {
            services.append(try webListener(web, seat: seat, identity: identity, logger: logger))
        }
        logger.notice("controller ready", metadata: ["name": "\(section.name)", "socket": "\(section.socket)",
                                                     "listen": "\(section.listen?.description ?? "-")", "store": "\(section.store)"])
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The web view's listener: plain on the loopback (everyone there views), mutual TLS
    /// elsewhere (operators' and viewers' certificates, both as viewers). It serves the API's
    /// reads too, which the page's stream and an operator's scripts use; nothing there changes
    /// the cluster, since a browser lends its certificate to any page's requests (CSRF).
    static func webListener(_ web: HostPort, seat: ControllerSeat, identity: TLSIdentity?, logger: Logger) throws -> some Service {
        let address = BindAddress.hostname(web.host, port: web.port)
        let access = webAccess(web)
        if access.loopbackOnly {
            return Application(router: ControllerRoutes.router(seat, access: access.callers, loopbackOnly: true), server: LoopAffineServer.http1(),
                               configuration: .init(address: address, serverName: "tetherd"), logger: logger)
        }
        guard let identity else {
            throw TetherError(.invalidArgument, "controller.web on \(web) (not the loopback) needs controller.tls: browsers there show an "
                              + "operator's or a viewer's certificate; or bind it to 127.0.0.1")
        }
        return Application(router: ControllerRoutes.router(seat, access: access.callers), server: LoopAffineServer.tls(identity.configuration(server: true)),
                           configuration: .init(address: address, serverName: "tetherd"), logger: logger)
    }

    /// Who the web listener serves: everyone as a viewer on the loopback (requests addressed to
    /// it only); elsewhere certificates, an operator's as a viewer's.
    static func webAccess(_ web: HostPort) -> (callers: LocalAccess, loopbackOnly: Bool) {
        Loopback.names(authority: web.host) ? (.loopbackViewers, true) : (.webViewers, false)
    }

    /// The unix socket API: a stale socket file from a killed daemon is removed first. Anyone may
    /// connect (mode 666); who may call what is decided per route from the caller's uid and
    /// groups (`LocalAccess`), so that a refusal says why instead of a bare EACCES.
    static func localAPI(socket: String, router: Router<APIContext>, logger: Logger) throws -> some Service {
        try FileManager.default.createDirectory(atPath: (socket as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(socket)
        return Application(router: router, server: LoopAffineServer.http1(), configuration: .init(address: .unixDomainSocket(path: socket), serverName: "tetherd"),
                           onServerRunning: { _ in chmod(socket, 0o666) }, logger: logger)
    }
}
