import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TetherClient
import TetherModel
@testable import Controller
import TetherHTTP

/// The controller's API in-process: decisions through HTTP, and every endpoint's bad input
/// answered with a 4xx and a JSON error that says what was wrong.
struct ControllerAPITests {
    let clock = TestClock()
    let controller: Controller

    init() async throws {
        let (store, _) = try ClusterFixtures.temporaryStore()
        controller = try await Controller(store: store, settings: .init(heartbeatTimeout: 15), connect: { registration in
            UnreachableAgent(host: registration.host)
        }, now: clock.function)
    }

    func app() -> some ApplicationProtocol { Application(router: ControllerRoutes.router(controller)) }

    static func body(_ value: some Encodable) -> ByteBuffer { ByteBuffer(data: try! APIJSON.encoder().encode(value)) }
    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    func registerBoth(_ client: some TestClientProtocol) async throws {
        for registration in [ClusterFixtures.hostA, ClusterFixtures.hostB] {
            try await client.execute(uri: "/v1/agents", method: .post, body: Self.body(registration)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func dryRunsDecideMigrationForTheWebcamAndAChannelForTheDongle() async throws {
        try await app().test(.router) { client in
            try await registerBoth(client)
            for (device, action, target) in [("046d:0825", AttachDecision.Action.migrate, "host-b"), ("1a86:7523", .forward, nil)] {
                let request = AttachRequest(container: "c1", device: try DeviceSelector(parsing: device), dryRun: true)
                try await client.execute(uri: "/v1/attachments", method: .post, body: Self.body(request)) { response in
                    #expect(response.status == .ok)
                    let answer = try APIJSON.decoder().decode(AttachResponse.self, from: Data(buffer: response.body))
                    #expect(answer.decision.action == action, "\(device): \(answer.decision.reasons)")
                    #expect(answer.decision.targetHost == target)
                    #expect(answer.operation == nil, "a dry run journals nothing")
                }
            }
            let status = try await controller.status()
            #expect(status.operations.isEmpty && status.attachments.isEmpty)
            #expect(status.hosts.map(\.registration.host) == ["host-a", "host-b"])
        }
    }

    @Test func aHostThatStopsHeartbeatingIsMarkedDownAndNoLongerAMigrationTarget() async throws {
        try await app().test(.router) { client in
            try await registerBoth(client)
            clock.advance(10)
            try await client.execute(uri: "/v1/agents/host-a/heartbeat", method: .post, body: Self.body("{}")) { response in
                #expect(response.status == .ok)
                // The answer lists the peers to watch, with their addresses.
                let reply = try APIJSON.decoder().decode(HeartbeatReply.self, from: Data(buffer: response.body))
                #expect(reply.peers.map(\.host) == ["host-b"])
            }
            clock.advance(10)   // host-b: 20 s without a heartbeat, host-a: 10 s
            let status = try await controller.status()
            #expect(status.hosts.map(\.up) == [true, false])
            let decision = try await controller.decide(AttachRequest(container: "c1", device: .port(DeviceRef("host-b/1-3")!), dryRun: true))
            #expect(decision.action == .reject, "\(decision.reasons)")
            #expect(decision.reasons.contains { $0.contains("host-b is down") && $0.contains("cannot be reached") }, "\(decision.reasons)")
        }
    }

    /// Which hosts are down is kept between requests (`Controller.downHosts`) and must still
    /// change the moment a silence passes the timeout, a down host is heard again, or a clock
    /// set back makes a heartbeat the earliest.
    @Test func whoIsDownChangesTheMomentASilencePassesTheTimeoutOrAHostIsHeard() async throws {
        let start = clock.now
        func at(_ seconds: TimeInterval) { clock.advance(start.addingTimeInterval(seconds).timeIntervalSince(clock.now)) }
        func down() async -> Set<String> { await controller.downHosts(at: clock.now) }
        try await controller.register(ClusterFixtures.hostA)
        try await controller.register(ClusterFixtures.hostB)
        #expect(await down() == [])
        at(10)
        try await controller.heartbeat(host: "host-a", Heartbeat())
        at(15)
        #expect(await down() == [], "host-b silent for exactly the timeout is still up")
        at(16)
        #expect(await down() == ["host-b"])
        try await controller.heartbeat(host: "host-b", Heartbeat())
        #expect(await down() == [], "heard again, up at once")
        at(20)
        #expect(await down() == [])
        at(26)
        #expect(await down() == ["host-a"], "host-a silent for 16 s")
        at(20)
        #expect(await down() == [], "a clock set back: host-a silent for 10 s then")
        // Set back further, host-a is heard (it registers again) before the earliest heartbeat
        // the kept answer knew.
        at(5)
        try await controller.register(ClusterFixtures.hostA)
        at(21)
        #expect(await down() == ["host-a"], "heard at 5 s, silent for 16 s at 21 s")
    }

    static let hugeBody = "{\"container\": \"" + String(repeating: "x", count: 5 << 20) + "\"}"

    @Test(arguments: [
        BadRequest(name: "register: no body", method: .post, uri: "/v1/agents", body: nil, status: 400, says: "the request needs a JSON body"),
        BadRequest(name: "register: not JSON", method: .post, uri: "/v1/agents", body: "{", status: 400, says: "the body is not valid JSON"),
        BadRequest(name: "register: field missing", method: .post, uri: "/v1/agents", body: "{\"host\": \"h\"}", status: 400,
                   says: "'agentAddress' is missing"),
        BadRequest(name: "register: wrong type", method: .post, uri: "/v1/agents",
                   body: "{\"host\": \"h\", \"agentAddress\": \"h:1\", \"cpus\": \"eight\", \"memoryMiB\": 1, \"networks\": {}, \"datastores\": [], \"devices\": [], \"vms\": []}",
                   status: 400, says: "'cpus' must be an integer"),
        BadRequest(name: "register: invalid values", method: .post, uri: "/v1/agents",
                   body: "{\"host\": \"bad host\", \"agentAddress\": \"h:1\", \"cpus\": 0, \"memoryMiB\": 1, \"networks\": {}, \"datastores\": [], \"devices\": [], \"vms\": []}",
                   status: 400, says: "registration of 'bad host' is invalid: host 'bad host' must be 1 to 63 letters"),
        BadRequest(name: "register: bad address", method: .post, uri: "/v1/agents",
                   body: "{\"host\": \"h\", \"agentAddress\": \"nowhere\", \"cpus\": 1, \"memoryMiB\": 1, \"networks\": {}, \"datastores\": [], \"devices\": [], \"vms\": []}",
                   status: 400, says: "'agentAddress': 'nowhere' is not HOST:PORT"),
        // Figures past the API's bounds would overflow the controller's sums and products: refused, not trapped on.
        BadRequest(name: "register: huge figures", method: .post, uri: "/v1/agents",
                   body: "{\"host\": \"h\", \"agentAddress\": \"h:1\", \"cpus\": 1, \"memoryMiB\": 1, \"networks\": {}, \"datastores\": [], "
                       + "\"devices\": [{\"id\": \"1-1\", \"periodicBytesPerSecond\": 9223372036854775807, \"bulkBytesPerSecond\": 0}], \"vms\": []}",
                   status: 400, says: "device '1-1': figures must be 0 to 1099511627776 bytes per second"),
        BadRequest(name: "register: a VM's huge allocation", method: .post, uri: "/v1/agents",
                   body: "{\"host\": \"h\", \"agentAddress\": \"h:1\", \"cpus\": 1, \"memoryMiB\": 1, \"networks\": {}, \"datastores\": [], \"devices\": [], "
                       + "\"vms\": [{\"name\": \"v\", \"cpus\": 1, \"memoryMiB\": 1, \"networkMbps\": 9223372036854775807, \"datastore\": \"d\", \"containers\": [], \"status\": \"running\"}]}",
                   status: 400, says: "vm 'v': networkMbps must be 0 to 10000000"),
        BadRequest(name: "register: a vendor id that is not one", method: .post, uri: "/v1/agents",
                   body: "{\"host\": \"h\", \"agentAddress\": \"h:1\", \"cpus\": 1, \"memoryMiB\": 1, \"networks\": {}, \"datastores\": [], "
                       + "\"devices\": [{\"id\": \"1-1\", \"vendorId\": \"x:y\", \"productId\": \"0001\", \"serial\": \"\", \"periodicBytesPerSecond\": 0, "
                       + "\"bulkBytesPerSecond\": 0}], \"vms\": []}",
                   status: 400, says: "vendorId 'x:y' is not four hex digits"),
        BadRequest(name: "heartbeat: a huge rate", method: .post, uri: "/v1/agents/host-b/heartbeat",
                   body: "{\"traffic\": [{\"device\": \"1-4\", \"bytesPerSecond\": 9223372036854775807}]}", status: 400,
                   says: "a rate is 0 to 1099511627776"),
        BadRequest(name: "heartbeat: unknown host", method: .post, uri: "/v1/agents/ghost/heartbeat", body: "{}", status: 404,
                   says: "host 'ghost' has not registered"),
        BadRequest(name: "heartbeat: not an object", method: .post, uri: "/v1/agents/host-a/heartbeat", body: "[]", status: 400,
                   says: "bad request body"),
        BadRequest(name: "attach: bad selector", method: .post, uri: "/v1/attachments", body: "{\"container\": \"c1\", \"device\": \"zz:yy\"}",
                   status: 400, says: "device 'zz:yy' is not a selector"),
        BadRequest(name: "attach: no device", method: .post, uri: "/v1/attachments", body: "{\"container\": \"c1\"}", status: 400,
                   says: "'device' is missing"),
        BadRequest(name: "attach: bad container name", method: .post, uri: "/v1/attachments",
                   body: "{\"container\": \"c 1\", \"device\": \"046d:0825\"}", status: 400, says: "container 'c 1' must be 1 to 63"),
        BadRequest(name: "attach: unknown container", method: .post, uri: "/v1/attachments",
                   body: "{\"container\": \"nobody\", \"device\": \"046d:0825\", \"dryRun\": true}", status: 404, says: "no VM runs container 'nobody'"),
        BadRequest(name: "attach: unknown VM", method: .post, uri: "/v1/attachments",
                   body: "{\"container\": \"c9\", \"vm\": \"vm-z\", \"device\": \"046d:0825\"}", status: 404, says: "no VM 'vm-z' is in the cluster"),
        BadRequest(name: "attach: no such device", method: .post, uri: "/v1/attachments",
                   body: "{\"container\": \"c1\", \"device\": \"ffff:0001\"}", status: 404, says: "no registered device matches ffff:0001"),
        BadRequest(name: "attach: no such host", method: .post, uri: "/v1/attachments",
                   body: "{\"container\": \"c1\", \"device\": \"host-z/1-1\"}", status: 404, says: "no agent has registered host 'host-z'"),
        BadRequest(name: "attach: body too large", method: .post, uri: "/v1/attachments", body: hugeBody, status: 400,
                   says: "larger than 4 MiB"),
        BadRequest(name: "detach: nothing attached", method: .post, uri: "/v1/detachments", body: "{\"container\": \"c1\"}", status: 404,
                   says: "container 'c1' has no attached device"),
        BadRequest(name: "detach: bad selector", method: .post, uri: "/v1/detachments", body: "{\"container\": \"c1\", \"device\": \"x\"}",
                   status: 400, says: "device 'x' is not a selector"),
        BadRequest(name: "operation: unknown", method: .get, uri: "/v1/operations/op-999", body: nil, status: 404, says: "no operation 'op-999'"),
        BadRequest(name: "operation: unknown, waited for", method: .get, uri: "/v1/operations/op-999?after=2&wait=5", body: nil, status: 404,
                   says: "no operation 'op-999'"),
        BadRequest(name: "operation: bad wait", method: .get, uri: "/v1/operations/op-1?wait=31", body: nil, status: 400,
                   says: "wait must be 0 to 30 seconds (how long to wait for a step), not '31'"),
        BadRequest(name: "operation: bad after", method: .get, uri: "/v1/operations/op-1?after=-1&wait=1", body: nil, status: 400,
                   says: "after must be the count of steps seen (0 or more), not '-1'"),
        BadRequest(name: "no such endpoint", method: .get, uri: "/v2/status", body: nil, status: 404, says: "no endpoint GET /v2/status"),
        BadRequest(name: "wrong method", method: .delete, uri: "/v1/status", body: nil, status: 404, says: "no endpoint DELETE /v1/status"),
    ])
    func badRequestsGetAClearFourHundred(_ bad: BadRequest) async throws {
        try await app().test(.router) { client in
            try await registerBoth(client)
            try await bad.send(client)
            let status = try await controller.status()
            #expect(status.operations.isEmpty, "bad input journals nothing")
        }
    }
}

/// An agent nobody can reach: for tests that never get as far as acting.
struct UnreachableAgent: HostAgent {
    let host: String
    func fail() -> TetherError { TetherError(.io, "agent \(host) unreachable in this test") }
    func registration() async throws(TetherError) -> AgentRegistration { throw fail() }
    func vm(_ name: String) async throws(TetherError) -> AgentVMState? { throw fail() }
    func prepareIncoming(_ request: IncomingRequest) async throws(TetherError) -> HostPort { throw fail() }
    func startMigration(vm: String, to target: HostPort, target targetHost: String) async throws(TetherError) { throw fail() }
    func release(vm: String, movedTo target: String?) async throws(TetherError) { throw fail() }
    func abandonIncoming(vm: String) async throws(TetherError) { throw fail() }
    func export(_ request: ExportRequest) async throws(TetherError) -> HostPort { throw fail() }
    func stopExport(session: String) async throws(TetherError) { throw fail() }
    func openChannel(_ request: ChannelRequest) async throws(TetherError) { throw fail() }
    func closeChannel(session: String, vm: String?) async throws(TetherError) { throw fail() }
}
