/// The agent's API (controller to agent, mutual TLS): what a host's agent reports about a VM, and
/// the actions the controller asks of it. Every action is idempotent: asked twice, it does the
/// thing once and answers the same, which is what lets a restarted controller simply ask again.

/// How to start a VM so that it can receive another's state: both ends of a live migration
/// must have the same machine, so the source's agent says how its VM was started.
public struct VMLaunch: Sendable, Equatable, Codable {
    public var name: String
    public var memoryMiB: Int
    public var cpus: Int
    public var usbController: Bool
    public var panicDevice: Bool
    /// QEMU's action on a panic (`pause`, `none`); nil: pause.
    public var panicAction: String?
    public var disk: String?
    /// The disk image's format (`raw`, `qcow2`); nil: read from the image.
    public var diskFormat: String?
    /// The versioned machine type it runs (`pc-i440fx-7.2`): a migration's target must be
    /// started with the same one. nil: the hypervisor's default, resolved at launch.
    public var machineType: String?
    /// Files the VM was started with in RAM (at these addresses); their ROM copies migrate, so
    /// the target needs the same files.
    public var memoryImages: [MemoryImage]
    /// A disk on shared storage: an export of a datastore, which each host opens through its own
    /// paths to that datastore (so it travels by name, not by address). Takes the place of `disk`.
    public var datastoreDisk: DatastoreDisk?
    /// Where on its disk the guest writes its crash files when it terminates abnormally.
    public var crashRegion: CrashRegion?

    public struct DatastoreDisk: Sendable, Equatable, Codable {
        public var datastore: String
        public var export: String

        public init(datastore: String, export: String) {
            self.datastore = datastore
            self.export = export
        }
    }

    public struct MemoryImage: Sendable, Equatable, Codable {
        public var path: String
        public var address: UInt64

        public init(path: String, address: UInt64) {
            self.path = path
            self.address = address
        }
    }

    public init(name: String, memoryMiB: Int, cpus: Int, usbController: Bool = true, panicDevice: Bool = false, disk: String? = nil,
                diskFormat: String? = nil, machineType: String? = nil, memoryImages: [MemoryImage] = [],
                datastoreDisk: DatastoreDisk? = nil) {
        self.datastoreDisk = datastoreDisk
        self.name = name
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.usbController = usbController
        self.panicDevice = panicDevice
        self.disk = disk
        self.diskFormat = diskFormat
        self.machineType = machineType
        self.memoryImages = memoryImages
    }
}

/// `GET /v1/agent/vms/{vm}`.
public struct AgentVMState: Sendable, Equatable, Codable {
    public var name: String
    /// QEMU's run state.
    public var status: VMRunState
    public var launch: VMLaunch?
    /// The outgoing migration, while one runs or after it ended.
    public var migration: MigrationReport?
    /// Tether's usb-redir devices in the VM.
    public var redirections: [String]
    /// How the VM is registered (its bandwidth, datastore, containers): moves with it.
    public var registration: RegisteredVM?
    /// The USB devices the VM sees now (QEMU's `info usb`).
    public var usb: [VMUSBDevice] = []
    /// The relay ends on this host that feed the VM's forwarded devices.
    public var channels: [ChannelEndState] = []

    public init(name: String, status: VMRunState, launch: VMLaunch?, migration: MigrationReport?, redirections: [String],
                registration: RegisteredVM? = nil) {
        self.name = name
        self.status = status
        self.launch = launch
        self.migration = migration
        self.redirections = redirections
        self.registration = registration
    }
}

public struct MigrationReport: Sendable, Equatable, Codable {
    /// As QEMU says; `error` when the agent could not start it.
    public var status: MigrationStatus
    public var transferredBytes: Int64
    public var totalBytes: Int64
    public var error: String?
    public var downtimeMs: Int64?

    public init(status: MigrationStatus, transferredBytes: Int64, totalBytes: Int64, error: String? = nil, downtimeMs: Int64? = nil) {
        self.status = status
        self.transferredBytes = transferredBytes
        self.totalBytes = totalBytes
        self.error = error
        self.downtimeMs = downtimeMs
    }
}

/// `POST /v1/agent/incoming`: start a VM waiting for a migration; answers where to send it.
public struct IncomingRequest: Sendable, Equatable, Codable {
    public var launch: VMLaunch
    /// The host the VM comes from: over TLS, the target accepts only that host's certificate.
    public var source: String?
    public var registration: RegisteredVM?
    /// The VM's forwarded devices: QEMU takes a migration only into a VM with the same
    /// hot-plugged devices, so each usb-redir device is added (fed by a relay end on the same
    /// loopback port as on the source) before the VM starts listening for its state.
    public var channels: [ChannelEndState]
    /// The network the state comes over: the target listens on its address there. Nil: the
    /// migration network; `management` while a host's migration network is lost, for the time
    /// of the move (the listener closes once the state arrived).
    public var via: NetworkRole?

    public init(launch: VMLaunch, source: String? = nil, registration: RegisteredVM? = nil, channels: [ChannelEndState] = [],
                via: NetworkRole? = nil) {
        self.launch = launch
        self.source = source
        self.registration = registration
        self.channels = channels
        self.via = via
    }
}

public struct AddressReply: Sendable, Equatable, Codable {
    public var address: HostPort
    public init(address: HostPort) { self.address = address }
}

/// `POST /v1/agent/migrations`: live-migrate a local VM to a readied target.
public struct MigrateRequest: Sendable, Equatable, Codable {
    public var vm: String
    public var to: HostPort
    /// The target's host name: over TLS, its certificate must carry it.
    public var target: String?
    public init(vm: String, to: HostPort, target: String? = nil) {
        self.vm = vm
        self.to = to
        self.target = target
    }
}

/// `POST /v1/agent/vms/release` and `/abandon`: by VM name; for a release, where it went.
public struct VMRequest: Sendable, Equatable, Codable {
    public var vm: String
    public var movedTo: String?
    public init(vm: String, movedTo: String? = nil) {
        self.vm = vm
        self.movedTo = movedTo
    }
}

/// `POST /v1/agent/exports`: export a local device for one attachment. `local`: for a VM on
/// this host (no relay; the exporter listens on the loopback); otherwise behind a mutual-TLS
/// relay that accepts only `allow`.
public struct ExportRequest: Sendable, Equatable, Codable {
    public var session: String
    public var device: String
    public var local: Bool
    public var allow: [String]

    public init(session: String, device: String, local: Bool, allow: [String]) {
        self.session = session
        self.device = device
        self.local = local
        self.allow = allow
    }
}

/// `POST /v1/agent/channels`: give a local VM the device exported at `from` (a relay's serve
/// end on `deviceHost`, or, `local`, the exporter itself).
public struct ChannelRequest: Sendable, Equatable, Codable {
    public var session: String
    public var vm: String
    public var from: HostPort
    public var deviceHost: String
    public var local: Bool

    public init(session: String, vm: String, from: HostPort, deviceHost: String, local: Bool) {
        self.session = session
        self.vm = vm
        self.from = from
        self.deviceHost = deviceHost
        self.local = local
    }
}

/// A relay end feeding a VM's usb-redir device: what must follow the VM when it moves. (Each
/// host listens for its VM on a private unix socket of its own, so no address crosses.)
public struct ChannelEndState: Sendable, Equatable, Codable {
    public var session: String
    public var from: HostPort
    public var deviceHost: String

    public init(session: String, from: HostPort, deviceHost: String) {
        self.session = session
        self.from = from
        self.deviceHost = deviceHost
    }
}

/// `POST /v1/agent/exports/stop` and `/v1/agent/channels/stop`.
public struct SessionRequest: Sendable, Equatable, Codable {
    public var session: String
    public var vm: String?
    public init(session: String, vm: String? = nil) {
        self.session = session
        self.vm = vm
    }
}

/// A USB device as a VM sees it: `BUS.ADDRESS` (address 0: a usb-redir whose peer has not yet
/// announced a device), its port, speed, product and QEMU device id.
public struct VMUSBDevice: Sendable, Equatable, Codable {
    public var address: String
    public var port: String
    public var speed: String
    public var product: String
    public var id: String?

    public init(address: String, port: String, speed: String, product: String, id: String?) {
        self.address = address
        self.port = port
        self.speed = speed
        self.product = product
        self.id = id
    }
}
