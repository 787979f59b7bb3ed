import ClusterStore
import Foundation
import Testing
import TetherModel
@testable import Controller

/// A registration that arrives after a newer one (held up on a network that was down, or sent
/// by an agent process that died before the network came back) would leave the controller
/// listing VMs the host has moved away. The agent's heartbeats name the revision it last had
/// accepted; the controller, holding another, answers 404 and gets the host's present again.
struct LateRegistrationTests {
    let clock = TestClock()
    let cluster: SimulatedCluster

    init() throws { cluster = try SimulatedCluster() }

    func start() async throws -> Controller {
        let world = cluster.world
        let controller = try await Controller(store: try SQLiteClusterStore(path: cluster.path), settings: .init(stepDeadline: 5),
                                              connect: { SimulatedAgent(host: $0.host, world: world) }, now: clock.function)
        try await controller.register(ClusterFixtures.hostB)
        return controller
    }

    static func hostA(revision: Int, vms: [RegisteredVM]) -> AgentRegistration {
        var registration = ClusterFixtures.hostA
        registration.revision = revision
        registration.vms = vms
        return registration
    }

    static let vmA = ClusterFixtures.hostA.vms[0]

    @Test func anOlderRegistrationDeliveredLateIsReplacedAtTheNextHeartbeat() async throws {
        let controller = try await start()
        // The agent's present: vm-a moved away.
        try await controller.register(Self.hostA(revision: 41, vms: []))
        _ = try await controller.heartbeat(host: "host-a", Heartbeat(registered: 41))
        // Its previous process's registration, still listing vm-a, arrives now.
        try await controller.register(Self.hostA(revision: 9_000, vms: [Self.vmA]))
        #expect(try await controller.status().vms.map(\.host) == ["host-a"], "the late registration is taken as it comes")

        let refused = await #expect(throws: TetherError.self) {
            _ = try await controller.heartbeat(host: "host-a", Heartbeat(registered: 41))
        }
        #expect(refused?.code == .notFound)
        #expect(refused?.message.contains("revision 9000") == true && refused?.message.contains("revision 41") == true, "\(refused?.message ?? "")")

        try await controller.register(Self.hostA(revision: 42, vms: []))
        _ = try await controller.heartbeat(host: "host-a", Heartbeat(registered: 42))
        #expect(try await controller.status().vms.isEmpty, "the host's present is held again")
    }

    @Test func anEarlierProcesssRegistrationIsRefusedWhileTheNewerOneIsHeard() async throws {
        let controller = try await start()
        let earlier = clock.now.addingTimeInterval(-60)
        var present = Self.hostA(revision: 7, vms: [])
        present.agentStarted = clock.now
        try await controller.register(present)
        _ = try await controller.heartbeat(host: "host-a", Heartbeat(registered: 7))

        var late = Self.hostA(revision: 900, vms: [Self.vmA])
        late.agentStarted = earlier
        let refused = await #expect(throws: TetherError.self) { try await controller.register(late) }
        #expect(refused?.code == .busy, "\(refused?.message ?? "")")
        #expect(try await controller.status().vms.isEmpty, "the late registration was not applied")
        _ = try await controller.heartbeat(host: "host-a", Heartbeat(registered: 7))

        // The newer process silent (it died, or the host's clock stepped back across a restart):
        // the host's registration is taken, whatever its start says.
        clock.advance(120)
        try await controller.register(late)
        #expect(try await controller.status().vms.map(\.host) == ["host-a"])
    }

    @Test func aHeartbeatWithoutARevisionIsNotChecked() async throws {
        let controller = try await start()
        try await controller.register(Self.hostA(revision: 5, vms: [Self.vmA]))
        _ = try await controller.heartbeat(host: "host-a", Heartbeat())
        try await controller.register(ClusterFixtures.hostA)   // an agent that does not count
        _ = try await controller.heartbeat(host: "host-a", Heartbeat())
    }

    @Test(arguments: [0, -1, 1 << 53])
    func revisionsOutsideTheirRangeAreRefused(_ revision: Int) async throws {
        let controller = try await start()
        await #expect(throws: TetherError.self) { try await controller.register(Self.hostA(revision: revision, vms: [])) }
        try await controller.register(Self.hostA(revision: 1, vms: []))
        let refused = await #expect(throws: TetherError.self) {
            _ = try await controller.heartbeat(host: "host-a", Heartbeat(registered: revision))
        }
        #expect(refused?.code == .invalidArgument)
    }
}
