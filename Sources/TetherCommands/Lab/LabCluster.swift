import Channel
import Foundation
import Lab
import TetherClient
import TetherModel
import TetherSystem

/// `tether lab up`'s work: the namespaces and links, the cluster's certificates, the datastore's
/// images served by an NBD server in the storage namespace, a controller, and an agent per host
/// whose VM runs the lab guest on `ds1`; then `lab.json`.
struct LabCluster {
    let layout: LabLayout
    let binaries: String
    /// Whether agents report their own faults (the self-triggered flows).
    var selfTriggeredFailover = true
    var processes: LabProcesses { LabProcesses(layout: layout) }
    var network: LabNetwork { LabNetwork(layout) }

    /// The guest writes sectors 0 to 4159 (about 2 MiB); 16 MiB leaves room.
    static let imageMiB = 16
    static let heartbeatBytes: off_t = 1 << 20

    /// Refuses when a lab's namespaces exist already (another lab's, or a broken one's).
    func checkNoneUp() throws(TetherError) {
        let leftovers = network.existing()
        guard leftovers.isEmpty else {
            throw TetherError(.busy, "a lab is up already (namespaces \(leftovers.joined(separator: ", "))): `tether lab down` first")
        }
    }

    /// Builds and starts the lab; call `checkNoneUp` first. On failure the caller takes it down.
    func up(say: (String) -> Void) async throws {
        try clearDirectory()
        try network.create()
        say("namespaces \(network.namespaces.joined(separator: ", ")); links mgmt0 mig0 vm0 st0 st1 in each host")
        try makeCertificates()
        try makeImages()
        try startStorage()
        say("storage: NBD server in \(LabLayout.storageNamespace) on \(LabLayout.storagePaths.joined(separator: " and ")), "
            + "exports \(layout.manifest.vms.map(\.name).joined(separator: ", ")) and \(LabLayout.heartbeatExport)")
        try await waitForStorage()
        try writeConfigurations()
        try processes.start("controller", in: LabLayout.controllerNamespace, ["\(binaries)/tetherd", "--config", "\(layout.controllerDirectory)/tetherd.yaml"])
        for host in layout.hosts {
            try processes.start(host, in: LabLayout.namespace(of: host), ["\(binaries)/tetherd", "--config", "\(layout.hostDirectory(host))/tetherd.yaml"])
        }
        try processes.startWebForwarder()
        say("web view: http://127.0.0.1:\(LabLayout.webPort) (read only; it follows the controller's events)")
        try writeManifest()
        let status = try await waitUntilRunning()
        for vm in status.vms { say("\(vm.name) \(vm.state) on \(vm.host)") }
    }

    /// A lab starts afresh: what an earlier lab left in the directory (kept by `down --keep-files`
    /// or a failed `up`) goes; a directory that holds anything else is refused.
    private func clearDirectory() throws {
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: layout.directory)) ?? []
        let ours: Set<String> = ["lab.json", "pki", "log", "run", "ctl", "storage"]
        let foreign = entries.filter { !ours.contains($0) && !layout.hosts.contains($0) && !$0.hasPrefix("host-") }
        guard foreign.isEmpty else {
            throw TetherError(.busy, "\(layout.directory) holds files that are not a lab's (\(foreign.prefix(3).joined(separator: ", "))); "
                              + "choose another --dir")
        }
        for entry in entries { try fm.removeItem(atPath: "\(layout.directory)/\(entry)") }
        try fm.createDirectory(atPath: layout.directory, withIntermediateDirectories: true)
    }

    func makeCertificates() throws {
        _ = try ClusterCA.initialize(in: layout.pki)
        for name in ["controller"] + layout.hosts { _ = try ClusterCA.issue(name: name, in: layout.pki) }
    }

    func makeImages() throws {
        try FileManager.default.createDirectory(atPath: layout.storageDirectory, withIntermediateDirectories: true)
        for vm in layout.manifest.vms { try LabGuest.makeImage(at: vm.image, sizeMiB: Self.imageMiB) }
        let heartbeats = open(layout.heartbeatImage, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard heartbeats >= 0, ftruncate(heartbeats, Self.heartbeatBytes) == 0 else {
            throw TetherError(.io, "cannot make the heartbeat image \(layout.heartbeatImage)", cause: String(cString: strerror(errno)))
        }
        close(heartbeats)
    }

    /// qemu-storage-daemon, one named export per image, listening on every address of the
    /// storage namespace (both storage links), with a QMP socket for fencing at the storage.
    func startStorage() throws {
        let qsd = try Executable.find("qemu-storage-daemon", package: "qemu-system-common")
        // The server first: qemu-storage-daemon takes its options in order, and an export needs it.
        var arguments = ["--nbd-server", "addr.type=inet,addr.host=0.0.0.0,addr.port=\(LabLayout.nbdPort),max-connections=64"]
        let exports = layout.manifest.vms.map { ($0.name, $0.image) } + [(LabLayout.heartbeatExport, layout.heartbeatImage)]
        for (name, image) in exports {
            arguments += ["--blockdev", "driver=file,node-name=file-\(name),filename=\(image),cache.direct=off,aio=threads",
                          "--blockdev", "driver=raw,node-name=\(name),file=file-\(name)",
                          "--export", "type=nbd,id=export-\(name),node-name=\(name),name=\(name),writable=on"]
        }
        arguments += ["--chardev", "socket,id=qmp,path=\(layout.storageDirectory)/storage.qmp,server=on,wait=off",
                      "--monitor", "chardev=qmp"]
        try processes.start("storage", in: LabLayout.storageNamespace, [qsd] + arguments)
    }

    private func waitForStorage() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: "\(layout.storageDirectory)/storage.qmp") {
            guard processes.pid("storage") != nil else { throw TetherError(.io, "the storage server exited: \(processes.tail("storage"))") }
            guard ContinuousClock.now < deadline else { throw TetherError(.timeout, "the storage server did not start: \(processes.tail("storage"))") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func writeConfigurations() throws {
        try FileManager.default.createDirectory(atPath: layout.controllerDirectory, withIntermediateDirectories: true)
        try LabConfigurations.controller(layout).write(toFile: "\(layout.controllerDirectory)/tetherd.yaml", atomically: true, encoding: .utf8)
        for (i, host) in layout.hosts.enumerated() {
            try FileManager.default.createDirectory(atPath: layout.crashDirectory(host), withIntermediateDirectories: true)
            try LabConfigurations.agent(layout, hostIndex: i, selfTriggered: selfTriggeredFailover).write(toFile: "\(layout.hostDirectory(host))/tetherd.yaml", atomically: true, encoding: .utf8)
        }
    }

    func writeManifest() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(layout.manifest).write(to: URL(fileURLWithPath: layout.manifestPath))
    }

    func client() -> ControllerClient { ControllerClient(APIClient(.unixSocket(layout.controllerSocket))) }

    /// Until every host is registered with its VM running, or the daemons' logs say why not.
    func waitUntilRunning(timeout: Duration = .seconds(90)) async throws -> ClusterStatus {
        let client = client()
        defer { Task { await client.api.close() } }
        let deadline = ContinuousClock.now + timeout
        var last: ClusterStatus?
        while ContinuousClock.now < deadline {
            for name in ["storage", "controller"] + layout.hosts where processes.pid(name) == nil {
                throw TetherError(.io, "the lab's \(name) exited: \(processes.tail(name))")
            }
            if let status = try? await client.status() {
                last = status
                if status.hosts.count == layout.hostCount, status.vms.count == layout.hostCount, status.vms.allSatisfy({ $0.state == "running" }) {
                    return status
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TetherError(.timeout, "the lab did not come up within \(timeout) (hosts: \(last?.hosts.map(\.name) ?? []), "
                          + "vms: \(last?.vms.map { "\($0.name) \($0.state)" } ?? [])); logs in \(layout.directory)/log")
    }

    func down() {
        processes.killAll()
        network.remove()
    }
}
