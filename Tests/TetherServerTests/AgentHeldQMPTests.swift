import Channel
import Foundation
import Logging
import Testing
import TetherModel
@testable import Agent
import TetherTestSupport

/// A QEMU whose `stop` drains a request on a dead storage path holds QMP until TCP gives up on
/// the request (in the lab once: forever, until keep-alive was set). The host's heartbeat asks
/// each VM's state; it must not wait on such a QEMU, or the controller stops hearing a host
/// that is alive and judges it lost.
struct AgentHeldQMPTests {
    @Test func aVMWhoseQEMUHoldsQMPReadsUnreachableAndTheRoundGoesOn() async throws {
        let directory = "/tmp/tq-" + String(UUID().uuidString.prefix(8))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pki = "\(directory)/pki"
        try FileManager.default.createDirectory(atPath: pki, withIntermediateDirectories: true)
        _ = try ClusterCA.initialize(in: pki)
        _ = try ClusterCA.issue(name: "host-a", in: pki)
        // Greets, takes the capabilities, then never answers again: QEMU's main loop held.
        let held = try FakeQMPServer(.silent)
        let vm = ManagedVMConfiguration(registration: RegisteredVM(name: "vm-held", cpus: 1, memoryMiB: 64, networkMbps: 10, datastore: "ds1"),
                                        qmpSocket: held.path)
        let settings = AgentSettings(host: "host-a", listen: HostPort(host: "127.0.0.1", port: 7401), publicAddress: "127.0.0.1", cpus: 2,
                                     memoryMiB: 1024, networks: [:], datastores: [], stateDirectory: "\(directory)/vms", vms: [vm])
        let agent = HostAgentService(settings: settings, identity: try TLSIdentity(directory: pki, name: "host-a"), logger: Logger(label: "test")) { [] }
        try await agent.start()

        let asked = ContinuousClock.now
        let registration = await agent.registration()
        await agent.checkStalledDisks()
        let waited = ContinuousClock.now - asked
        #expect(registration.vms.map(\.name) == ["vm-held"])
        #expect(registration.vms.first?.status == .unreachable)
        // Each question waits its `heartbeatStatusWait`, not QMP's 30 s default.
        #expect(waited < HostAgentService.heartbeatStatusWait * 4, "the round waited \(waited)")
    }
}
