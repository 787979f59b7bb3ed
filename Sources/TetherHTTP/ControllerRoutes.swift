import Controller
import Hummingbird
import TetherModel

/// The controller's API, version 1. The same routes serve the local unix socket (the CLI, the
/// OCI hook) and mutual TLS (agents, remote operators).
public enum ControllerRoutes {
    /// The routes of a controller that leads for its whole life (the embedded store, tests).
    public static func router(_ controller: Controller, access: LocalAccess = .socketFileOnly) -> Router<APIContext> {
        router(ControllerSeat(leading: controller), access: access)
    }

    /// The routes of one controller of a cluster: they act through the seat's controller while
    /// this one leads, and answer `notLeader` (503, naming the leader) while it stands by.
    /// Each route first asks who calls (`CallerRole`): agents' routes take an agent's
    /// certificate for that very host; reads take a viewer or an operator; attach and detach an
    /// operator. A refusal is 403 with the reason.
    /// `loopbackOnly`: the plain web listener on the loopback, which serves requests addressed
    /// to the loopback only (`LoopbackHostCheck`).
    public static func router(_ seat: ControllerSeat, access: LocalAccess = .socketFileOnly, loopbackOnly: Bool = false) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: APIErrorMiddleware())
        if loopbackOnly { router.add(middleware: LoopbackHostCheck()) }
        let v1 = router.group("v1")

        v1.post("agents") { request, context in
            try await context.require(.agent, access, to: "register a host")
            let registration = try await APIBody.decode(AgentRegistration.self, from: request)
            try await context.requirePeer(named: registration.host)
            try await seat.leading().register(registration)
            return try APIBody.json(registration)
        }
        v1.post("agents/:host/heartbeat") { request, context in
            try await context.require(.agent, access, to: "heartbeat for a host")
            let host = try context.parameters.require("host")
            try await context.requirePeer(named: host)
            let beat = try await APIBody.decode(Heartbeat.self, from: request)
            return try APIBody.json(try await seat.leading().heartbeat(host: host, beat))
        }
        // Moves a host made on its own while it could not reach the controller.
        v1.post("agents/:host/moves") { request, context in
            try await context.require(.agent, access, to: "hand over a host's moves")
            let host = try context.parameters.require("host")
            try await context.requirePeer(named: host)
            let moves = try await APIBody.decode([OperationRecord].self, from: request)
            return try APIBody.json(try await seat.leading().adoptMoves(of: host, moves))
        }
        // An agent's fault (self-triggered failover): only the host itself may report it.
        v1.post("faults") { request, context in
            try await context.require(.agent, access, to: "report a host's fault")
            let report = try await APIBody.decode(FaultReport.self, from: request)
            try await context.requirePeer(named: report.host)
            return try APIBody.json(try await seat.leading().reportFault(report, trigger: .selfTriggered))
        }
        v1.post("attachments") { request, context in
            let attach = try await APIBody.decode(AttachRequest.self, from: request)
            // A dry run changes nothing: a viewer may ask what would be done.
            try await context.require(attach.dryRun ? .read : .change, access, to: attach.dryRun ? "ask for a decision" : "attach devices")
            let response = try await seat.leading().attach(attach)
            return try APIBody.json(response, status: response.operation == nil ? .ok : .accepted)
        }
        v1.post("detachments") { request, context in
            try await context.require(.change, access, to: "detach devices")
            let detach = try await APIBody.decode(DetachRequest.self, from: request)
            return try APIBody.json(try await seat.leading().detach(detach), status: .accepted)
        }
        // The journal's latest operations, newest first.
        v1.get("operations") { request, context in
            try await context.require(.read, access, to: "read operations")
            let limit = try request.uri.queryParameters["limit"].map { text throws(TetherError) -> Int in
                guard let n = Int(text), (1...500).contains(n) else { throw TetherError(.invalidArgument, "limit must be 1 to 500, not '\(text)'") }
                return n
            } ?? 20
            return try APIBody.json(try await seat.recentOperations(limit: limit))
        }
        // Long polling too: with `wait`, the answer comes once the operation has more than
        // `after` steps or has finished (or `wait` seconds have passed), so that a follower
        // (`tether attach`, the OCI hook) learns each step as it is journaled.
        v1.get("operations/:id") { request, context in
            try await context.require(.read, access, to: "read operations")
            let id = try context.parameters.require("id")
            let after = try count(request, "after", of: "the count of steps seen")
            let wait = try waitSeconds(request, for: "a step")
            guard wait > .zero else { return try APIBody.json(try await seat.leading().operation(id)) }
            return try APIBody.json(try await seat.leading().operation(id, after: after, wait: wait))
        }
        v1.get("status") { _, context in
            try await context.require(.read, access, to: "read the cluster's status")
            return try APIBody.json(try await seat.status())
        }
        // Long polling: `after` the last sequence seen, waiting up to `wait` seconds (at most 30)
        // for the next event; `tether events --follow` asks again with `next`.
        v1.get("events") { request, context in
            try await context.require(.read, access, to: "read events")
            let after = try count(request, "after", of: "a sequence number")
            let wait = try waitSeconds(request, for: "an event")
            return try APIBody.json(await seat.leading().events(after: after, wait: wait))
        }
        // The same events as server-sent events, for browsers (the web view) and `curl -N`.
        v1.get("events/stream") { request, context in
            try await context.require(.read, access, to: "read events")
            return try await EventStream.response(request, seat: seat)
        }
        v1.get("openapi.json") { _, _ in OpenAPIDocument.response() }
        WebRoutes.add(to: router, seat: seat, access: access)
        return router
    }

    /// A query's count (`after`), 0 or more; 0 when absent.
    static func count(_ request: Request, _ name: String, of what: String) throws(TetherError) -> Int {
        guard let text = request.uri.queryParameters[Substring(name)] else { return 0 }
        guard let n = Int(text), n >= 0 else { throw TetherError(.invalidArgument, "\(name) must be \(what) (0 or more), not '\(text)'") }
        return n
    }

    /// A long poll's `wait`: 0 to 30 seconds, to the millisecond; zero (answer at once) when absent.
    static func waitSeconds(_ request: Request, for what: String) throws(TetherError) -> Duration {
        guard let text = request.uri.queryParameters["wait"] else { return .zero }
        guard let seconds = Double(text), seconds >= 0, seconds <= 30 else {
            throw TetherError(.invalidArgument, "wait must be 0 to 30 seconds (how long to wait for \(what)), not '\(text)'")
        }
        return .milliseconds(Int(seconds * 1000))
    }
}
