import ArgumentParser
import Foundation
import Hypervisor
import Lab
import TetherClient
import TetherModel

/// `tether lab`: a real cluster on this machine (shared/spec/ha.md, "tether lab"): hosts in
/// network namespaces with four networks and two storage paths each, a storage server, a
/// controller, an agent per host, a VM of the lab guest per host. It stays up until `down`.
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab", abstract: "A real cluster on this machine, to try faults on (root; QEMU, iproute2).",
        subcommands: [Up.self, Status.self, Crash.self, Restart.self, Down.self])

    struct Location: ParsableArguments {
        @Option(help: "The lab's directory (lab.json, logs, images, sockets).") var dir = LabLayout.defaultDirectory
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Build the lab and start it; it runs until `tether lab down`.")
        @OptionGroup var location: Location
        @Option(help: "How many hosts (host-a, host-b, ...).") var hosts = 3
        @Flag(help: "Agents do not report their own faults: only the controller's outside view starts a failover (to watch it alone).")
        var noSelfTrigger = false

        func run() async throws {
            try await FailureReporting.run {
                let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
                var cluster = LabCluster(layout: try LabLayout(directory: location.dir, hosts: hosts), binaries: binaries)
                cluster.selfTriggeredFailover = !noSelfTrigger
                let start = ContinuousClock.now
                try cluster.checkNoneUp()
                do {
                    try await cluster.up { print($0) }
                } catch {
                    print("the lab did not come up; the logs are in \(cluster.layout.directory)/log; taking it down")
                    cluster.down()
                    throw error
                }
                print("lab up in \((ContinuousClock.now - start).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))): "
                      + "\(cluster.layout.manifestPath); try `tether lab status --dir \(cluster.layout.directory)`, "
                      + "`ip -n tl-host-a link set st0 down`, `tether events --follow --socket \(cluster.layout.controllerSocket)`")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Where everything of the lab is, and the cluster's status.")
        @OptionGroup var location: Location
        @Flag(help: "The cluster's status as JSON (`tether status --json`).") var json = false

        func run() async throws {
            try await FailureReporting.run {
                let manifest = try LabManifest.load(from: try LabLayout(directory: location.dir).manifestPath)
                let client = ControllerClient(APIClient(.unixSocket(manifest.controllerSocket)))
                defer { Task { await client.api.close() } }
                let status = try await client.status()
                if json { return try printJSON(status) }
                print("LAB \(manifest.directory)  controller \(manifest.controllerSocket) (\(manifest.controller.namespace), \(manifest.controller.address))")
                print("  storage \(manifest.storage.namespace): \(manifest.storage.datastore) at \(manifest.storage.paths.joined(separator: ", "))")
                for host in manifest.hosts {
                    let a = host.addresses
                    print("  \(host.name) \(host.namespace): mgmt0 \(a.management), mig0 \(a.migration), vm0 \(a.vm), "
                          + "st0 \(a.storage[0]), st1 \(a.storage[1]); crash files \(host.crashDirectory)")
                }
                for vm in manifest.vms { print("  \(vm.name) started on \(vm.host), image \(vm.image)") }
                print(StatusText.render(status), terminator: "")
            }
        }
    }

    struct Crash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Crash a VM's guest: an NMI over QMP (the lab guest panics and writes its crash record).")
        @OptionGroup var location: Location
        @Argument(help: "The VM.") var vm: String

        func run() async throws {
            try await FailureReporting.run {
                let manifest = try LabManifest.load(from: try LabLayout(directory: location.dir).manifestPath)
                let client = ControllerClient(APIClient(.unixSocket(manifest.controllerSocket)))
                defer { Task { await client.api.close() } }
                guard let found = try await client.status().vms.first(where: { $0.name == vm }) else {
                    throw TetherError(.notFound, "no VM '\(vm)' runs in the lab (`tether lab status`)")
                }
                guard let monitor = found.monitor else { throw TetherError(.unsupported, "\(vm) on \(found.host) has no operator QMP socket") }
                let machine = try await QEMUMachine.adopt(socketPath: monitor, name: vm)
                defer { Task { await machine.qmp.close() } }
                try await machine.qmp.execute("inject-nmi")
                print("NMI injected into \(vm) on \(found.host)")
            }
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop everything of the lab and remove its namespaces and files.")
        @OptionGroup var location: Location
        @Flag(help: "Keep the lab's directory (logs, images, journal).") var keepFiles = false

        func run() throws {
            try FailureReporting.run {
                let layout = try LabLayout(directory: location.dir)
                LabCluster(layout: layout, binaries: "").down()
                if !keepFiles { try? FileManager.default.removeItem(atPath: layout.directory) }
                print("lab down" + (keepFiles ? "; files kept in \(layout.directory)" : ""))
            }
        }
    }
}
