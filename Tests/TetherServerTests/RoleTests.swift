import Channel
import Foundation
import Hummingbird
import Testing
import TetherClient
import TetherModel
import TetherTestSupport
@testable import Controller
import TetherHTTP

/// Who may do what on the controller's API, route by route: over mutual TLS the caller's
/// certificate's role decides (`tether certs issue --role`), on the local socket its groups do.
/// A refusal is 403 with the reason; an allowed caller gets past the check (its answer may still
/// be a 404 or a 400 for the made-up request, never a 403).
@Suite(.serialized)
struct RoleTests {
    struct Route: Sendable, CustomTestStringConvertible {
        var name: String
        var allowed: Set<CallerRole>
        var call: @Sendable (APIClient) async throws -> Void
        var testDescription: String { name }
    }

    static let registration = ClusterFixtures.hostB
    static let routes: [Route] = [
        Route(name: "POST /v1/agents", allowed: [.agent]) { try await $0.post("/v1/agents", registration) },
        Route(name: "POST /v1/agents/host-b/heartbeat", allowed: [.agent]) { try await $0.post("/v1/agents/host-b/heartbeat", Heartbeat()) },
        Route(name: "POST /v1/agents/host-b/moves", allowed: [.agent]) { try await $0.post("/v1/agents/host-b/moves", [String]()) },
        Route(name: "POST /v1/faults", allowed: [.agent]) {
            try await $0.post("/v1/faults", FaultReport(host: "host-b", fault: .storage, evidence: ["a test"]))
        },
        Route(name: "POST /v1/attachments (dry run)", allowed: [.operator, .viewer]) {
            try await $0.post("/v1/attachments", AttachRequest(container: "c9", device: .port(DeviceRef(host: "host-b", id: "1-4")), dryRun: true))
        },
        Route(name: "POST /v1/attachments", allowed: [.operator]) {
            try await $0.post("/v1/attachments", AttachRequest(container: "c9", device: .port(DeviceRef(host: "host-b", id: "1-4"))))
        },
        Route(name: "POST /v1/detachments", allowed: [.operator]) { try await $0.post("/v1/detachments", DetachRequest(container: "c9")) },
        Route(name: "GET /v1/operations/op-9", allowed: [.operator, .viewer]) { _ = try await $0.get("/v1/operations/op-9", as: OperationRecord.self) },
        Route(name: "GET /v1/status", allowed: [.operator, .viewer]) { _ = try await $0.get("/v1/status", as: ClusterStatus.self) },
        Route(name: "GET /v1/events", allowed: [.operator, .viewer]) { _ = try await $0.get("/v1/events?after=0", as: EventPage.self) },
        Route(name: "GET /v1/operations", allowed: [.operator, .viewer]) { _ = try await $0.get("/v1/operations?limit=5", as: [OperationRecord].self) },
        // The web view's page and sections (HTML: the client fails to read them as JSON, which is no refusal).
        Route(name: "GET /", allowed: [.operator, .viewer]) { _ = try await $0.get("/", as: ClusterStatus.self) },
        Route(name: "GET /view/sections", allowed: [.operator, .viewer]) { _ = try await $0.get("/view/sections", as: ClusterStatus.self) },
    ]

    /// A controller serving mutual TLS on a loopback port, and the PKI with one certificate per role.
    final class Server: @unchecked Sendable {
        let pki: String
        var live: LiveServer?

        init(access: LocalAccess = .socketFileOnly) async throws {
            pki = try Fixtures.temporaryDirectory().path
            _ = try ClusterCA.initialize(in: pki)
            _ = try ClusterCA.issue(name: "controller", in: pki)
            _ = try ClusterCA.issue(name: "ops", role: .operator, in: pki)
            _ = try ClusterCA.issue(name: "watcher", role: .viewer, in: pki)
            _ = try ClusterCA.issue(name: "host-b", in: pki)   // a host's certificate: no role, an agent
            let (store, _) = try ClusterFixtures.temporaryStore()
            let controller = try await Controller(store: store, connect: { UnreachableAgent(host: $0.host) })
            try await controller.register(ClusterFixtures.hostA)
            let identity = try TLSIdentity(directory: pki, name: "controller")
            live = try await LiveServer(ControllerRoutes.router(controller, access: access),
                                        server: LoopAffineServer.tls(identity.configuration(server: true)))
        }

        var port: Int { live?.port ?? 0 }

        func client(_ name: String) throws -> APIClient {
            APIClient(servers: [.tls(HostPort(host: "127.0.0.1", port: port))], identity: try TLSIdentity(directory: pki, name: name))
        }
    }

    static let callers: [(name: String, role: CallerRole)] = [("ops", .operator), ("watcher", .viewer), ("host-b", .agent)]

    @Test(arguments: routes)
    func eachRouteAdmitsItsRolesAndRefusesTheOthersWith403(_ route: Route) async throws {
        let server = try await Server()
        for (name, role) in Self.callers {
            let client = try server.client(name)
            defer { Task { await client.close() } }
            var refusal: TetherError?
            do { try await route.call(client) } catch let error as TetherError where error.code == .permissionDenied { refusal = error } catch {}
            if route.allowed.contains(role) {
                #expect(refusal == nil, "\(role.rawValue) may call \(route.name): \(refusal?.message ?? "")")
            } else {
                let message = refusal?.message ?? "admitted"
                #expect(message.contains("the role \(role.rawValue) may not") && message.contains("that takes"), "\(role.rawValue) on \(route.name): \(message)")
            }
        }
    }

    /// The web listener over mutual TLS: a browser lends its certificate to any page's requests
    /// (a hostile page's form post included), so there an operator views and agents are refused.
    @Test(arguments: routes)
    func onTheWebListenerOperatorsOnlyViewAndAgentsAreRefused(_ route: Route) async throws {
        let server = try await Server(access: .webViewers)
        for (name, role) in Self.callers {
            let client = try server.client(name)
            defer { Task { await client.close() } }
            var refusal: TetherError?
            do { try await route.call(client) } catch let error as TetherError where error.code == .permissionDenied { refusal = error } catch {}
            if route.allowed.contains(.viewer) && role != .agent {
                #expect(refusal == nil, "\(role.rawValue) may call \(route.name) on the web listener: \(refusal?.message ?? "")")
            } else {
                let expected = role == .agent ? "the web view's listener serves viewers" : "the role viewer may not"
                #expect(refusal?.message.contains(expected) == true, "\(role.rawValue) on \(route.name): \(refusal?.message ?? "admitted")")
            }
        }
    }

    @Test func aCertificateSaysItsRoleAndOneWithoutCountsAsAnAgent() throws {
        let pki = try Fixtures.temporaryDirectory().path
        _ = try ClusterCA.initialize(in: pki)
        for role in CallerRole.allCases {
            let path = try ClusterCA.issue(name: "x-\(role.rawValue)", role: role, in: pki)
            #expect(ClusterCA.role(inDER: try Self.der(path)) == role)
        }
        #expect(ClusterCA.role(inDER: try Self.der(try ClusterCA.issue(name: "host-z", in: pki))) == nil)
    }

    static func der(_ pem: String) throws -> [UInt8] {
        let text = try String(contentsOfFile: pem, encoding: .utf8)
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return Array(try #require(Data(base64Encoded: body)))
    }
}

/// The local socket: root may do everything; another user by its groups (as numbers here, so no
/// group has to exist on the machine): operators attach, viewers read, anyone else is refused.
@Suite(.serialized, .requires(LocalOutsider.available, LocalOutsider.missing))
struct LocalAccessTests {
    @Test func theCallersGroupsDecideOnTheLocalSocket() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        chmod(directory, 0o755)
        let socket = "\(directory)/tetherd.sock"
        let (store, _) = try ClusterFixtures.temporaryStore()
        let controller = try await Controller(store: store, connect: { UnreachableAgent(host: $0.host) })
        try await controller.register(ClusterFixtures.hostA)
        try await controller.register(ClusterFixtures.hostB)
        let access = LocalAccess(operatorGroups: [4242], viewerGroups: [4243])
        let app = Application(router: ControllerRoutes.router(controller, access: access),
                              configuration: .init(address: .unixDomainSocket(path: socket)),
                              onServerRunning: { _ in chmod(socket, 0o666) })
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        while !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(100))

        func tether(groups: String?, _ arguments: [String]) async throws -> ProcessResult {
            let user = groups.map { ["setpriv", "--reuid", "65534", "--regid", "65534", "--groups", $0, "--"] } ?? []
            return try await ProcessRunner.run("/usr/bin/env", user + [Tools.product("tether")] + arguments + ["--socket", socket])
        }
        let dryRun = ["attach", "--container", "c1", "--device", "1a86:7523", "--dry-run"]
        let detach = ["detach", "--container", "c9"]

        let viewer = try await tether(groups: "4243", ["status"])
        #expect(viewer.status == 0, "a viewer reads: \(viewer.stderr)")
        #expect(try await tether(groups: "4243", dryRun).status == 0, "and asks for decisions")
        let refused = try await tether(groups: "4243", detach)
        #expect(refused.status != 0 && refused.stderr.contains("the role viewer may not detach devices; that takes operator"), "\(refused.stderr)")
        let stranger = try await tether(groups: "100", ["status"])
        #expect(stranger.status != 0 && stranger.stderr.contains("uid 65534 is in none of the controller's groups"), "\(stranger.stderr)")
        // An operator gets past the check: c9 simply has nothing attached.
        let operatorCall = try await tether(groups: "100,4242", detach)
        #expect(operatorCall.stderr.contains("container 'c9' has no attached device"), "\(operatorCall.stderr)")
        #expect(try await tether(groups: nil, ["status"]).status == 0, "root may do everything")
    }
}
