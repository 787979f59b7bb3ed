import Channel
import Foundation
import Logging
import Synchronization
import Testing
import TetherModel
@testable import Agent
import TetherTestSupport

/// An unplugged device's export is stopped without holding up the inventory that noticed the
/// unplug, and so the heartbeat loop that took it: an exporter that ignores SIGTERM takes its
/// 2 s grace to be killed, one blocked in the kernel on a yanked device longer.
struct ExportStopTests {
    /// An exporter that listens where it is told (`--as HOST:PORT`) and ignores SIGTERM.
    static let stubbornExporter = """
        #!/usr/bin/env python3
        import signal, socket, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        host, port = sys.argv[sys.argv.index("--as") + 1].rsplit(":", 1)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, int(port)))
        listener.listen()
        time.sleep(600)
        """

    /// The devices plugged into the test's host, as its inventory reads them.
    final class Plugged: Sendable {
        let devices = Mutex([ClusterFixtures.dongle])
        func pull() { devices.withLock { $0 = [] } }
    }

    static let session = "vm-b/host-b/1-4"

    /// An agent whose exporter is the stubborn one, exporting the dongle (to a VM of its own:
    /// no relay), and the dongle's exporter's supervisor.
    static func exportingAgent(in directory: String, _ plugged: Plugged) async throws -> (HostAgentService, ExporterSupervisor) {
        try #require(Tools.which("python3") != nil, "the stubborn exporter needs python3: apt-get install python3")
        let exporter = "\(directory)/stubborn-usbredirect"
        try stubbornExporter.write(toFile: exporter, atomically: true, encoding: .utf8)
        chmod(exporter, 0o755)
        _ = try ClusterCA.initialize(in: directory)
        _ = try ClusterCA.issue(name: "host-b", in: directory)
        let settings = AgentSettings(host: "host-b", listen: HostPort(host: "127.0.0.1", port: 7401), publicAddress: "127.0.0.1", cpus: 2,
                                     memoryMiB: 1024, networks: [:], datastores: [], stateDirectory: "\(directory)/state", vms: [],
                                     exporterProgram: exporter)
        let agent = HostAgentService(settings: settings, identity: try TLSIdentity(directory: directory, name: "host-b"),
                                     logger: Logger(label: "test")) { plugged.devices.withLock { $0 } }
        _ = await agent.refreshDevices()
        _ = try await agent.export(ExportRequest(session: session, device: ClusterFixtures.dongle.id, local: true, allow: []))
        let supervisor = try #require(await agent.exports[session]?.supervisor)
        #expect(supervisor.isRunning)
        return (agent, supervisor)
    }

    @Test func aDeviceThatLeftHasItsExportStoppedWithoutTheInventoryWaitingForIt() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plugged = Plugged()
        let (agent, supervisor) = try await Self.exportingAgent(in: directory, plugged)

        plugged.pull()
        let started = ContinuousClock.now
        #expect(await agent.refreshDevices(), "the inventory changed")
        let took = ContinuousClock.now - started
        // The stop itself takes the exporter's 2 s grace before SIGKILL: the inventory did not wait.
        #expect(took < .seconds(1), "the inventory took \(took)")
        #expect(await agent.exports[Self.session] == nil, "the export is off the host's books at once")
        #expect(await agent.exportsStopping.count == 1)
        #expect(supervisor.isRunning, "the exporter is still in its grace")

        // It is killed after its grace, and the stop is forgotten.
        let deadline = ContinuousClock.now + .seconds(10)
        while await !agent.exportsStopping.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await agent.exportsStopping.isEmpty)
        #expect(!supervisor.isRunning)
        await agent.shutdown(vmsToo: false)
    }

    @Test func shutdownWaitsForTheStopsUnderWay() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plugged = Plugged()
        let (agent, supervisor) = try await Self.exportingAgent(in: directory, plugged)
        plugged.pull()
        _ = await agent.refreshDevices()
        #expect(supervisor.isRunning)
        // An agent that exits leaves no exporter it started behind, the stopping ones included.
        await agent.shutdown(vmsToo: false)
        #expect(!supervisor.isRunning)
        #expect(await agent.exportsStopping.isEmpty)
    }
}
