import ArgumentParser
import Foundation
import Placement
import TetherClient
import TetherModel

/// `tether status`: the cluster as the controller sees it.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
                                                    abstract: "Hosts, VMs, devices with their figures, attachments, operations in flight.")

    @Flag(help: "Print it as JSON.") var json = false
    @OptionGroup var controller: ControllerOptions

    func run() async throws {
        try await FailureReporting.run {
            let client = try controller.client()
            defer { Task { await client.api.close() } }
            let status = try await client.status()
            if json { try printJSON(status) } else { print(StatusText.render(status), terminator: "") }
        }
    }
}

enum StatusText {
    static func render(_ status: ClusterStatus) -> String {
        var out = ""
        if !status.controllers.isEmpty || status.store != nil {
            out += "CONTROLLERS" + (status.store.map { "  (store \($0))" } ?? "") + "\n"
            for c in status.controllers {
                out += "  \(c.name)  \(c.leader ? "leader" : "standby")" + (c.address.map { "  \($0)" } ?? "") + "\n"
            }
            if !status.controllers.contains(where: \.leader) { out += "  ! no controller leads (an election is under way)\n" }
        }
        out += "HOSTS\n"
        if status.hosts.isEmpty { out += "  none registered yet\n" }
        for host in status.hosts {
            let r = host.registration
            out += "  \(r.host)  \(host.condition.verdict.rawValue)  \(r.cpus) cpus, \(r.memoryMiB) MiB, agent \(r.agentAddress)\n"
            for reason in host.condition.reasons { out += "    ! \(reason)\n" }
            if !host.networks.isEmpty {
                out += "    networks  " + host.networks.sorted { $0.key < $1.key }.map { role, network in
                    "\(role.rawValue) \(network.state.rawValue)" + (network.address.map { " (\($0))" } ?? "")
                }.joined(separator: ", ") + "\n"
            }
            for store in host.datastores where !store.paths.isEmpty {
                out += "    datastore \(store.name)  " + store.paths.map { "\($0.uri) \($0.state.rawValue)" }.joined(separator: ", ") + "\n"
            }
            for vm in r.vms {
                out += "    vm \(vm.name)  \(vm.status)  \(vm.networkMbps) Mbit/s"
                    + (vm.containers.isEmpty ? "" : "  containers: \(vm.containers.joined(separator: ", "))") + "\n"
            }
            for d in r.devices {
                let name = [d.vendorId.map { "\($0):\(d.productId ?? "????")" }, d.product].compactMap { $0 }.joined(separator: " ")
                let ref = DeviceRef(host: r.host, id: d.id)
                out += "    device \(ref)  \(name)  " + Self.figures(status.devices.first { $0.device == ref }, registered: d) + "\n"
                if let advice = status.devices.first(where: { $0.device == ref })?.advice { out += "      ! \(advice)\n" }
            }
        }
        out += "VMS\n"
        if status.vms.isEmpty { out += "  none\n" }
        for vm in status.vms { out += "  \(vm.name)  on \(vm.host)  \(vm.state)\n" }
        out += "ATTACHMENTS\n"
        if status.attachments.isEmpty { out += "  none\n" }
        for a in status.attachments {
            out += "  \(a.device) -> \(a.vm) on \(a.vmHost) for \(a.container) (\(a.mode.rawValue))"
                + (a.lost.map { "  LOST: \($0)" } ?? "") + "\n"
        }
        out += "OPERATIONS IN FLIGHT\n"
        if status.operations.isEmpty { out += "  none\n" }
        for op in status.operations {
            let last = op.steps.last.map { "\($0.step) \($0.phase.rawValue)" } ?? "journaled"
            out += "  \(op.id) \(op.kind.rawValue) \(op.summary): \(last)\n"
        }
        return out
    }

    /// "needs 4.8 Mbit/s (declared 16 B/s periodic; observed 4.6 Mbit/s peak, 4.1 Mbit/s now)":
    /// what placement decides on, then the descriptors' and the channel's figures beside it.
    static func figures(_ figures: DeviceFigures?, registered d: RegisteredDevice) -> String {
        guard let figures else { return "needs \(Rate.bits((d.periodicBytesPerSecond + d.bulkBytesPerSecond) * 8))" }
        var parts = ["declared \(Rate.bits(figures.periodicBytesPerSecond * 8)) periodic"]
        if let profile = figures.profileBulkBytesPerSecond { parts.append("profile \(Rate.bits(profile * 8)) bulk") }
        if let seen = figures.observed {
            parts.append("observed \(Rate.bits(seen.peakBytesPerSecond * 8)) peak, \(Rate.bits(seen.lastBytesPerSecond * 8)) last")
        } else {
            parts.append("observed -")
        }
        return "needs \(Rate.bits(figures.requiredBitsPerSecond)) (\(figures.source.rawValue); " + parts.joined(separator: ", ") + ")"
    }
}
