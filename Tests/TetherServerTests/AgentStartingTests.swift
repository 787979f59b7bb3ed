import Channel
import Foundation
import Logging
import Testing
import TetherModel
import TetherSystem
@testable import Agent
import TetherTestSupport

/// A host starts one QEMU per VM, however often it is asked at once: a controller whose request
/// timed out while the QEMU was still starting asks again, and a second QEMU beside the first
/// would run the VM twice once both got a state.
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct AgentStartingTests {
    @Test func twoRequestsToReceiveAVMAtOnceStartOneQEMU() async throws {
        let directory = "/tmp/ta-" + String(UUID().uuidString.prefix(8))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pki = "\(directory)/pki"
        try FileManager.default.createDirectory(atPath: pki, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(directory)/vms", withIntermediateDirectories: true)
        _ = try ClusterCA.initialize(in: pki)
        _ = try ClusterCA.issue(name: "host-b", in: pki)
        let settings = AgentSettings(host: "host-b", listen: HostPort(host: "127.0.0.1", port: 7401), publicAddress: "127.0.0.1", cpus: 2,
                                     memoryMiB: 1024, networks: [:], datastores: [], stateDirectory: "\(directory)/vms", vms: [])
        let agent = HostAgentService(settings: settings, identity: try TLSIdentity(directory: pki, name: "host-b"), logger: Logger(label: "test")) { [] }
        let request = IncomingRequest(launch: VMLaunch(name: "vm-s", memoryMiB: 64, cpus: 1), source: "host-a")

        @Sendable func ask() async -> Result<HostPort, TetherError> {
            do throws(TetherError) { return .success(try await agent.prepareIncoming(request)) } catch { return .failure(error) }
        }
        async let first = ask()
        async let second = ask()
        let answers = await [first, second]
        let addresses = answers.compactMap { try? $0.get() }
        let refusals = answers.compactMap { result -> TetherError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(!addresses.isEmpty, "\(answers)")
        #expect(Set(addresses).count == 1, "one address, whoever answered: \(addresses)")
        #expect(refusals.allSatisfy { $0.code == .busy }, "the other is told to ask again: \(refusals)")
        // Asked again once the first is up: the same copy, waiting for its state.
        let again = try await agent.prepareIncoming(request)
        #expect(again == addresses.first)
        let running = try await ProcessRunner.run("/usr/bin/env", ["pgrep", "-f", "\(directory)/vms/vm-s.qmp"])
        #expect(running.stdout.split(separator: "\n").count == 1, "one QEMU for vm-s: \(running.stdout)")
        try await agent.abandonIncoming(vm: "vm-s")
    }
}
