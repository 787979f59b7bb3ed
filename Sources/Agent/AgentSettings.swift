import Channel
import Foundation
import Hypervisor
import TetherModel

/// What an agent needs to know about its host that it cannot discover: how the controller
/// reaches it, where relays and migrations listen, and the VMs it manages.
public struct AgentSettings: Sendable {
    public var host: String
    /// Where the agent API listens (mutual TLS); also what it registers.
    public var listen: HostPort
    /// The address other hosts reach this one at for channels and migrations.
    public var publicAddress: String
    public var cpus: Int
    public var memoryMiB: Int
    public var networks: [NetworkRole: NetworkLink]
    /// Each datastore with this host's IO paths to it.
    public var datastores: [DatastoreAccess]
    /// Where launched VMs keep their QMP sockets and logs.
    public var stateDirectory: String
    public var vms: [ManagedVMConfiguration]
    /// The usbredir exporter, `usbredirect` unless a test swaps in a recorded device's peer.
    public var exporterProgram: String
    public var migration: MigrationOptions
    /// Migrations in and out go over mutual TLS with these (the agent's own certificate);
    /// nil: plaintext, for tests that run without a cluster CA.
    public var migrationTLS: MigrationTLS?
    /// How often to heartbeat.
    public var heartbeatInterval: Duration
    /// Where crashed guests' crash files and memory dumps go, one folder per crash.
    public var crashDirectory: String
    /// What the host does with its VMs when isolated (registered, so that the controller knows
    /// when it may restart them elsewhere); nil: it does not fence.
    public var fencing: FencingPolicy?
    /// Where the files of a VM launched on the controller's word (a migration's target, a
    /// restart elsewhere) may be; nil: anywhere (a library user that checks its own launches).
    /// A launch is a request from the network: without this, one naming /etc/shadow as a RAM
    /// image would have QEMU read it into a guest.
    public var imageDirectories: [String]?
    /// Files allowed by their exact path beside those directories: this host's own VMs'.
    public var ownImageFiles: [String] = []

    public init(host: String, listen: HostPort, publicAddress: String, cpus: Int, memoryMiB: Int,
                networks: [NetworkRole: NetworkLink], datastores: [DatastoreAccess], stateDirectory: String, vms: [ManagedVMConfiguration],
                exporterProgram: String = "usbredirect", migration: MigrationOptions = MigrationOptions(),
                migrationTLS: MigrationTLS? = nil, heartbeatInterval: Duration = .seconds(5)) {
        self.host = host
        self.listen = listen
        self.publicAddress = publicAddress
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.networks = networks
        self.datastores = datastores
        self.stateDirectory = stateDirectory
        self.vms = vms
        self.exporterProgram = exporterProgram
        self.migration = migration
        self.migrationTLS = migrationTLS
        self.heartbeatInterval = heartbeatInterval
        self.crashDirectory = "\(stateDirectory)/crash"
    }
}

extension AgentSettings {
    /// This host's address on `role` (shared/spec/ha.md: migrations to the migration address,
    /// device channels over the VM network), or the public address where the network has none.
    public func address(on role: NetworkRole) -> String {
        networks[role]?.address ?? publicAddress
    }
}

/// A VM an agent manages: started from `launch`, or adopted by its QMP socket.
public struct ManagedVMConfiguration: Sendable, Equatable {
    public var registration: RegisteredVM
    public var launch: VMLaunch?
    public var qmpSocket: String?

    public init(registration: RegisteredVM, launch: VMLaunch? = nil, qmpSocket: String? = nil) {
        self.registration = registration
        self.launch = launch
        self.qmpSocket = qmpSocket
    }
}

extension VMLaunch {
    /// The spec QEMU is started with; `NAME.monitor.qmp` in `directory` is the operator's
    /// QMP socket (the agent holds the first). A VM started to receive another's state gets no
    /// RAM images: its RAM comes in the migration stream.
    func spec(incoming: Bool, directory: String, datastores: [DatastoreAccess] = [],
              pathStates: [String: HealthState] = [:]) throws(TetherError) -> VMSpec {
        var spec = VMSpec(name: name, memoryMiB: memoryMiB, cpus: cpus, usbController: usbController, panicDevice: panicDevice, disk: disk,
                          incoming: incoming, memoryImages: incoming ? [] : memoryImages.map { ($0.path, $0.address) })
        spec.operatorMonitor = "\(directory)/\(name).monitor.qmp"
        if let panicAction { spec.panicAction = panicAction }
        if let machineType { spec.machineType = machineType }
        if let shared = datastoreDisk {
            guard let store = datastores.first(where: { $0.name == shared.datastore }), !store.paths.isEmpty else {
                throw TetherError(.notFound, "vm '\(name)': this host has no path to datastore '\(shared.datastore)'")
            }
            // A path known down goes last: QEMU opens the disk on the first.
            let ordered = store.paths.filter { pathStates[$0] != .down } + store.paths.filter { pathStates[$0] == .down }
            spec.networkDisk = try NetworkDisk(uris: ordered, export: shared.export)
        }
        if let diskFormat {
            guard let format = DiskFormat(rawValue: diskFormat) else {
                throw TetherError(.invalidArgument, "vm '\(name)': disk format '\(diskFormat)' is not one Tether runs; "
                                  + "use \(DiskFormat.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            spec.diskFormat = format
        }
        return spec
    }
}
