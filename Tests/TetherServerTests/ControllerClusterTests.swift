import Foundation
import Testing
import TetherModel
import TetherSystem
import TetherTestKit
import TetherTestSupport

/// Two real `tetherd --role controller` processes on a real etcd: one leads, both answer
/// `tether status` with the controllers and the store, the standby refuses to act and names the
/// leader, the CLI given both sockets finds the leader, and a leader killed with SIGKILL is
/// replaced within the lease time plus a second.
@Suite(.requires(EtcdTestCluster.available, "etcd (Debian's etcd-server)"), .serialized)
struct ControllerClusterTests {
    @Test func twoControllersOneLeaderAndATakeoverAfterKillNine() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        let etcd = try await EtcdTestCluster(directory: "\(directory)/etcd")
        defer { etcd.killAll() }
        var controllers: [String: BackgroundProcess] = [:]
        defer { for (_, c) in controllers { c.kill() } }
        for name in ["c1", "c2"] {
            let process = try await etcd.startController(name, in: directory)
            controllers[name] = process
            if name == "c1" { #expect(process.waitForOutput("leading", timeout: 10), "c1, alone, leads: \(process.output)") }
        }

        func status(_ sockets: String) async throws -> ClusterStatus {
            let result = try await ProcessRunner.run(Tools.product("tether"), ["status", "--json", "--socket", sockets])
            guard result.status == 0 else { throw TetherError(.io, "tether status: \(result.stderr)") }
            return try APIJSON.decoder().decode(ClusterStatus.self, from: Data(result.stdout.utf8))
        }
        for name in ["c1", "c2"] {
            let seen = try await status("\(directory)/\(name).sock")
            #expect(seen.controllers.map(\.name) == ["c1", "c2"] && seen.controllers.map(\.leader) == [true, false], "\(seen.controllers)")
            #expect(seen.store == etcd.address)
        }
        let refused = try await ProcessRunner.run(Tools.product("tether"), ["attach", "--container", "c9", "--device", "host-b/1-3", "--dry-run",
                                                                            "--socket", "\(directory)/c2.sock"])
        #expect(refused.status != 0 && refused.stderr.contains("c2 is a standby: c1 leads"), "\(refused.stderr)")
        let found = try await ProcessRunner.run(Tools.product("tether"), ["attach", "--container", "c9", "--device", "host-b/1-3", "--dry-run",
                                                                          "--socket", "\(directory)/c2.sock,\(directory)/c1.sock"])
        #expect(!found.stderr.contains("standby"), "given both sockets, the CLI asks the leader: \(found.stderr)")

        // kill -9 the leader: c2 leads within the lease (2 s) plus a second.
        let killed = ContinuousClock.now
        controllers["c1"]?.kill()
        var leader: String?
        while ContinuousClock.now - killed < .seconds(10), leader != "c2" {
            leader = (try? await status("\(directory)/c2.sock"))?.controllers.first { $0.leader }?.name
            if leader != "c2" { try await Task.sleep(for: .milliseconds(50)) }
        }
        let takeover = ContinuousClock.now - killed
        #expect(leader == "c2" && takeover < .seconds(3), "c2 leads \(takeover) after c1 was killed")
        #expect(try await status("\(directory)/c2.sock").controllers.map(\.name) == ["c2"], "the dead controller's lease went with it")
    }
}
