import Foundation
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// Health measured in a real lab (shared/spec/ha.md): links taken down with `ip link set`, and
/// what the controller concludes. One lab for the whole suite; each test puts back what it broke.
/// Its agents do not act on their own faults, so that the VMs stay put and each test sees
/// health alone (the flows are LabFailoverTests').
@Suite(.serialized, .requires(SharedLab.canRun, "root, QEMU, iproute2, qemu-storage-daemon and the built tetherd"), .sharedLabWithoutSelfTrigger)
struct LabHealthTests {
    @Test func theLabComesUpHealthy() async throws {
        let status = try await SharedLab.waitFor("three healthy hosts with every network and path up") { status in
            status.hosts.count == 3 && status.hosts.allSatisfy { host in
                host.condition.verdict == .healthy && host.networks.count == 4 && host.networks.values.allSatisfy { $0.state == .up }
                    && host.datastores.first?.paths.map(\.state) == [.up, .up]
            }
        }
        print("lab healthy \(status) after up")
        let snapshot = try await SharedLab.status()
        #expect(Set(snapshot.vms.map(\.name)) == ["vm-a", "vm-b", "vm-c"])
        #expect(snapshot.vms.allSatisfy { $0.state == "running" && $0.monitor != nil })
        let manifest = try LabManifest.load(from: SharedLab.layout.manifestPath)
        #expect(manifest.hosts.map(\.namespace) == ["tl-host-a", "tl-host-b", "tl-host-c"])
        #expect(manifest.storage.namespace == "tl-storage")
    }

    /// Each network of a host taken down is seen down by the host itself (its own report) and by
    /// the controller, with its peers seeing it gone (`partial` for them); and up again after.
    @Test(arguments: [("mig0", NetworkRole.migration), ("vm0", .vm)])
    func aNetworkTakenDownIsReportedDownAndComesBack(interface: String, role: NetworkRole) async throws {
        try await SharedLab.link("host-b", interface, up: false)
        let detected = try await SharedLab.waitFor("host-b's \(role.rawValue) network down") { status in
            guard let b = status.hosts.first(where: { $0.name == "host-b" }), let a = status.hosts.first(where: { $0.name == "host-a" }) else { return false }
            return b.networks[role]?.state == .down && b.networks[role]?.link == false && a.networks[role]?.state == .partial
                && b.condition.verdict == .degraded
        }
        print("\(role.rawValue) down seen by the controller after \(detected)")
        try await SharedLab.link("host-b", interface, up: true)
        try await SharedLab.waitFor("every \(role.rawValue) network up again") { status in
            status.hosts.allSatisfy { $0.networks[role]?.state == .up }
        }
    }

    /// Management cut: the controller cannot hear host-b, its peers still do: not dead.
    @Test func managementLostIsToldFromDeath() async throws {
        try await SharedLab.link("host-b", "mgmt0", up: false)
        let detected = try await SharedLab.waitFor("host-b management-lost") { status in
            guard let b = status.hosts.first(where: { $0.name == "host-b" }) else { return false }
            return b.condition.verdict == .managementLost && b.up && b.networks[.management]?.state == .down
                && b.networks[.migration]?.state == .up
        }
        print("management loss seen after \(detected)")
        // It stays so: not declared dead after the dead time, since its peers hear it.
        try await Task.sleep(for: .seconds(11))
        let later = try #require(try await SharedLab.status().hosts.first { $0.name == "host-b" })
        #expect(later.condition.verdict == .managementLost)
        try await SharedLab.link("host-b", "mgmt0", up: true)
        try await SharedLab.waitFor("host-b healthy again") { $0.hosts.first { $0.name == "host-b" }?.condition.verdict == .healthy }
    }

    /// The agent killed, the host's links up: the kernel answers, so the agent is down, not the host.
    @Test func aKilledAgentIsNotADeadHost() async throws {
        let pidText = try String(contentsOfFile: SharedLab.layout.pidFile("host-c"), encoding: .utf8)
        let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
        try await SharedLab.waitFor("host-c agent-down", within: .seconds(30)) { status in
            status.hosts.first { $0.name == "host-c" }?.condition.verdict == .agentDown
        }
        let restart = try await ProcessRunner.run(Tools.product("tether"), ["lab", "restart", "host-c", "--dir", SharedLab.directory])
        #expect(restart.status == 0, "\(restart.stderr)")
        try await SharedLab.waitFor("host-c healthy again, its VM adopted", within: .seconds(30)) { status in
            status.hosts.first { $0.name == "host-c" }?.condition.verdict == .healthy
                && status.vms.first { $0.name == "vm-c" }.map { $0.host == "host-c" && $0.state == "running" } == true
        }
    }

    /// Every link of host-c down: silent on every network and datastore, dead after the dead time.
    @Test func aHostSilentEverywhereIsDead() async throws {
        for link in LabLayout.links { try await SharedLab.link("host-c", link.interface, up: false) }
        let silent = try await SharedLab.waitFor("host-c silent") { status in
            status.hosts.first { $0.name == "host-c" }.map { [.silent, .dead].contains($0.condition.verdict) } == true
        }
        let dead = try await SharedLab.waitFor("host-c dead", within: .seconds(30)) { status in
            status.hosts.first { $0.name == "host-c" }.map { $0.condition.verdict == .dead && !$0.up } == true
        }
        print("host-c silent after \(silent), dead after \(silent + dead)")
        for link in LabLayout.links { try await SharedLab.link("host-c", link.interface, up: true) }
        try await SharedLab.waitFor("host-c healthy again", within: .seconds(30)) { status in
            status.hosts.first { $0.name == "host-c" }?.condition.verdict == .healthy
        }
    }
}
