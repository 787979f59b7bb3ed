import Foundation
import Testing
import TetherModel
@testable import TetherServer
import TetherTestSupport

/// tetherd's configuration file: the samples read as documented; mistakes are errors that say
/// where, never silently ignored.
struct ConfigurationTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples")

    @Test func theSamplesReadAsDocumented() throws {
        let controller = try TetherdConfiguration.load(Self.samples.appendingPathComponent("tetherd-controller.yaml").path)
        #expect(controller.role == .controller)
        #expect(controller.controller?.listen == HostPort(host: "0.0.0.0", port: 7400))
        #expect(controller.controller?.migrateThresholdPercent == 50)
        #expect(controller.controller?.metrics == HostPort(host: "127.0.0.1", port: 9400))
        #expect(controller.controller?.web == HostPort(host: "127.0.0.1", port: 7480))
        #expect(controller.controller?.devices.rebalance == .advise && controller.controller?.devices.profiles == ["0bda:2838": 4_800_000])

        let agent = try #require(try TetherdConfiguration.load(Self.samples.appendingPathComponent("tetherd-agent.yaml").path).agent)
        #expect(agent.host == "host-b")
        #expect(agent.networks[.storage] == NetworkLink(up: true, mbps: 25000, address: "10.83.0.12"))
        #expect(agent.datastores == [DatastoreAccess(name: "ds1", paths: ["nbd://10.83.0.1:10809", "nbd://10.84.0.1:10809"])])
        #expect(agent.vms.map(\.name) == ["vm-7", "vm-8"])
        let launch = try #require(agent.vms[0].managed(datastores: agent.datastores).launch)
        #expect(launch.disk == nil && launch.datastoreDisk == VMLaunch.DatastoreDisk(datastore: "ds1", export: "vm-7"))
        #expect(launch.panicDevice && launch.panicAction == "pause")
        #expect(launch.crashRegion == CrashRegion(firstSector: 4096, sectors: 64, marker: "TETHERCR"))
        #expect(agent.isolationResponse == .pause && agent.isolationDeadlineSeconds == 6)
        #expect(controller.controller?.crashRestartLimit == 3 && controller.controller?.managementMigrationPercent == 50)
        #expect(agent.vms[1].managed(datastores: agent.datastores).qmpSocket == "/run/qemu/vm-8.qmp")
        #expect(agent.vms[1].cpus == 1, "defaults fill what is left out")
    }

    @Test(arguments: [
        ("controller:\n  sockett: /run/x.sock\n", "unknown key 'controller.sockett' (line 2)"),
        ("role: controller\nextra: 1\n", "unknown key 'extra' (line 2)"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, networkMbps: 1, datastore: d, ram: 4}\n",
         "unknown key 'agent.vms[].ram' (line 7)"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  networks: {vm: {up: true, speed: 10}}\n",
         "unknown key 'agent.networks.*.speed' (line 6)"),
        ("agent:\n  host: h\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n", "'controller' is missing in 'agent'"),
        ("agent:\n  host: h\n  controller: nowhere\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n", "'agent.controller': 'nowhere' is not HOST:PORT"),
        ("controller:\n  migrateThresholdPercent: half\n", "'controller.migrateThresholdPercent' must be an integer"),
        ("role: boss\n", "'role'"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  datastores: [{name: d, path: [x]}]\n",
         "unknown key 'agent.datastores[].path' (line 6)"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, networkMbps: 1, datastore: d, panic: crash}\n",
         "panic 'crash' is not pause or none"),
        ("controller: [1, 2\n", "is not valid YAML"),
        ("controller:\n  store: etcd://10.0.0.1:2379,nowhere\n", "'nowhere' in store 'etcd://10.0.0.1:2379,nowhere' is not HOST:PORT"),
        ("controller:\n  store: postgres://db/tether\n", "a path (SQLite) or etcd://HOST:PORT,... is expected"),
        ("controller:\n  etcd: {ca: /x/ca.crt}\n", "etcd TLS needs all three of ca, cert and key"),
        ("controller:\n  etcd: {leaseSeconds: 1}\n", "leaseSeconds must be 2 (etcd's least) to 60, not 1"),
        ("controller:\n  etcd: {lease: 3}\n", "unknown key 'controller.etcd.lease' (line 2)"),
        ("controller:\n  name: 'c 1'\n", "controller name 'c 1'"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, networkMbps: 1, datastore: d, crash: {firstSector: 8, sectors: 0}}\n",
         "a crash region is 1 to 65536 sectors"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, networkMbps: 1, datastore: d, crash: {first: 8, sectors: 2}}\n",
         "unknown key 'agent.vms[].crash.first'"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  isolationResponse: shutdown\n", "isolationResponse"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  isolationDeadlineSeconds: 0\n",
         "isolationDeadlineSeconds must be more than 0"),
        ("controller:\n  managementMigrationPercent: 0\n", "managementMigrationPercent must be 1 to 100"),
        ("controller:\n  crashRestartLimit: -1\n", "crashRestartLimit must be 0 or more"),
        ("controller:\n  devices: {rebalance: always}\n", "rebalance 'always' is not auto, advise or off"),
        ("controller:\n  devices: {profiles: {sdr: 100}}\n", "profile 'sdr' is not VID:PID"),
        ("controller:\n  devices: {profiles: {'0bda:2838': -1}}\n", "profile '0bda:2838': -1 bytes per second is negative"),
        ("controller:\n  devices: {windowSeconds: 0}\n", "windowSeconds 1 or more"),
        ("controller:\n  devices: {rebalanceAfter: 3}\n", "unknown key 'controller.devices.rebalanceAfter' (line 2)"),
        ("controller:\n  devices: {profiles: {'0bda:2838': 99000000000000}}\n", "is more than any device moves"),
        // What the API refuses from the network is refused when tetherd starts.
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, cpus: 0, networkMbps: 1, datastore: d}\n", "launch of 'v' is invalid: cpus must be 1 to 255, not 0"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: 'v 1', networkMbps: 1, datastore: d}\n", "vm name 'v 1' must be 1 to 63"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, networkMbps: 1, datastore: d}\n    - {name: v, networkMbps: 2, datastore: d}\n", "vm 'v' is listed twice"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, networkMbps: 1, datastore: d, disk: images/v.img}\n", "is not an absolute file path"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: v, networkMbps: -5, datastore: d}\n", "networkMbps must be 0 to"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  imageDirectories: [images]\n", "'images' is not an absolute path"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  imageDirectories: [/]\n", "'/' holds the system's own files"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  imageDirectories: [/var/lib/tether/images, /etc/ssh/]\n", "'/etc/ssh/' holds the system's own files"),
        ("agent:\n  host: h\n  controller: 1.2.3.4:7400\n  publicAddress: 1.2.3.4\n  tls: {directory: /x}\n  vms:\n    - {name: 'a b', networkMbps: 1, datastore: d, qmp: /run/a.qmp}\n", "vm name 'a b' must be"),
    ])
    func mistakesAreErrorsThatSayWhere(_ text: String, _ says: String) {
        #expect {
            try TetherdConfiguration.parse(text, source: "t.yaml")
        } throws: { error in
            guard let error = error as? TetherError, error.code == .invalidArgument else { return false }
            let text = error.message
            return text.hasPrefix("t.yaml") && text.contains(says)
        }
    }

    @Test func tetherdRefusesABadConfigurationWithExitStatusTwo() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bad.yaml").path
        try "role: controller\ncontroller:\n  stor: /tmp/x\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await ProcessRunner.run(Tools.product("tetherd"), ["--config", path])
        #expect(result.status == 2)
        #expect(result.stderr == "tetherd: \(path): unknown key 'controller.stor' (line 3)\n")
        let missing = try await ProcessRunner.run(Tools.product("tetherd"), ["--config", directory.appendingPathComponent("none.yaml").path])
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("tetherd: cannot read the configuration"))
    }
}
