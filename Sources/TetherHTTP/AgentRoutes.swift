import Hummingbird
import TetherModel

/// The agent's API, version 1: what the controller asks of this host. Only the certificate
/// names in `callers` (the controller's) are served.
public enum AgentRoutes {
    public static func router(_ agent: any HostAgent, callers: Set<String>) -> Router<APIContext> {
        router(agent) { callers }
    }

    /// Callers that change: the controller and, on the listener for peers, the cluster's hosts.
    public static func router(_ agent: any HostAgent, callers: @escaping @Sendable () async -> Set<String>) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: CallerCheck(callers: callers))
        // The API's description, the controller's routes and the agents' in one document.
        router.get("v1/openapi.json") { _, _ in OpenAPIDocument.response() }
        let v1 = router.group("v1/agent")

        v1.get("registration") { _, _ in try APIBody.json(await agent.registration()) }
        v1.get("vms/:name") { _, context in
            let name = try context.parameters.require("name")
            guard let state = try await agent.vm(name) else {
                throw TetherError(.notFound, "\(agent.host) does not run \(name)")
            }
            return try APIBody.json(state)
        }
        v1.post("incoming") { request, _ in
            let incoming = try await APIBody.decode(IncomingRequest.self, from: request)
            return try APIBody.json(AddressReply(address: try await agent.prepareIncoming(incoming)))
        }
        v1.post("migrations") { request, _ in
            let migration = try await APIBody.decode(MigrateRequest.self, from: request)
            try await agent.startMigration(vm: migration.vm, to: migration.to, target: migration.target ?? migration.to.host)
            return Response(status: .accepted)
        }
        v1.post("vms/release") { request, _ in
            let release = try await APIBody.decode(VMRequest.self, from: request)
            try await agent.release(vm: release.vm, movedTo: release.movedTo)
            return APIBody.noContent()
        }
        v1.post("vms/abandon") { request, _ in
            try await agent.abandonIncoming(vm: try await APIBody.decode(VMRequest.self, from: request).vm)
            return APIBody.noContent()
        }
        v1.post("evacuations") { request, _ in
            try await agent.evacuate(try await APIBody.decode(EvacuateRequest.self, from: request))
            return Response(status: .accepted)
        }
        v1.post("vms/resume") { request, _ in
            let name = try await APIBody.decode(VMRequest.self, from: request).vm
            _ = try await agent.resume(vm: name)
            guard let state = try await agent.vm(name) else { throw TetherError(.notFound, "\(agent.host) does not run \(name)") }
            return try APIBody.json(state)
        }
        v1.post("vms/crash") { request, _ in
            try APIBody.json(try await agent.collectCrash(vm: try await APIBody.decode(VMRequest.self, from: request).vm))
        }
        v1.post("vms/restart") { request, _ in
            let name = try await APIBody.decode(VMRequest.self, from: request).vm
            _ = try await agent.restart(vm: name)
            guard let state = try await agent.vm(name) else { throw TetherError(.notFound, "\(agent.host) does not run \(name)") }
            return try APIBody.json(state)
        }
        v1.post("vms/start") { request, _ in
            let vm = try await APIBody.decode(RegisteredVM.self, from: request)
            _ = try await agent.startFromDisk(vm)
            guard let state = try await agent.vm(vm.name) else { throw TetherError(.notFound, "\(agent.host) does not run \(vm.name)") }
            return try APIBody.json(state)
        }
        v1.post("exports") { request, _ in
            let export = try await APIBody.decode(ExportRequest.self, from: request)
            return try APIBody.json(AddressReply(address: try await agent.export(export)))
        }
        v1.post("exports/stop") { request, _ in
            try await agent.stopExport(session: try await APIBody.decode(SessionRequest.self, from: request).session)
            return APIBody.noContent()
        }
        v1.post("channels") { request, _ in
            try await agent.openChannel(try await APIBody.decode(ChannelRequest.self, from: request))
            return APIBody.noContent()
        }
        v1.post("channels/stop") { request, _ in
            let close = try await APIBody.decode(SessionRequest.self, from: request)
            try await agent.closeChannel(session: close.session, vm: close.vm)
            return APIBody.noContent()
        }
        return router
    }
}

/// Over TLS, only the listed certificate names get through (the controller's); the local unix
/// socket, when there is one, is guarded by its file permissions.
struct CallerCheck: RouterMiddleware {
    let callers: @Sendable () async -> Set<String>

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        if let names = await context.peerNames() {
            let callers = await callers()
            guard names.contains(where: callers.contains) else {
                throw TetherError(.permissionDenied, "certificate \(names.isEmpty ? "without a name" : names.joined(separator: ", ")) "
                                  + "may not call this agent; it serves \(callers.sorted().joined(separator: ", "))")
            }
        }
        return try await next(request, context)
    }
}
