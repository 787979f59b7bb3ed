import Foundation

/// What an agent tells the controller about its host when it starts, and again whenever its
/// devices or VMs change: the host's capacity and networks, its USB devices with `tether
/// probe`'s figures, and the VMs it manages.
public struct AgentRegistration: Sendable, Equatable, Codable {
    public var host: String
    /// Where the agent's own API listens (mutual TLS).
    public var agentAddress: HostPort
    public var cpus: Int
    public var memoryMiB: Int
    public var networks: [NetworkRole: NetworkLink]
    public var datastores: [String]
    public var devices: [RegisteredDevice]
    public var vms: [RegisteredVM]
    /// What the host does with its VMs when isolated; nil: it does not fence (no health
    /// monitors), and its VMs are never restarted elsewhere on the controller's own judgement.
    public var fencing: FencingPolicy?
    /// When this agent process started: a new value tells the controller the agent restarted,
    /// with none of the exports and channel ends it held (they are given to it again).
    public var agentStarted: Date?
    /// Names this registration among its agent's: its heartbeats say which one it last had
    /// accepted (`Heartbeat.registered`), and a controller holding another (an older one,
    /// delivered late from a network that was down, even after the process that sent it died)
    /// asks for the registration again. Counted from a random start in each agent process, so
    /// that an old process's cannot pass for a new one's; nil: not counted.
    public var revision: Int?

    public init(host: String, agentAddress: HostPort, cpus: Int, memoryMiB: Int, networks: [NetworkRole: NetworkLink],
                datastores: [String], devices: [RegisteredDevice], vms: [RegisteredVM], fencing: FencingPolicy? = nil,
                agentStarted: Date? = nil, revision: Int? = nil) {
        self.fencing = fencing
        self.revision = revision
        self.agentStarted = agentStarted
        self.host = host
        self.agentAddress = agentAddress
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.networks = networks
        self.datastores = datastores
        self.devices = devices
        self.vms = vms
    }
}

public struct RegisteredDevice: Sendable, Equatable, Codable {
    /// Bus-port path (`1-3`), unique on its host.
    public var id: String
    public var vendorId: String?
    public var productId: String?
    public var serial: String?
    public var product: String?
    public var periodicBytesPerSecond: Int
    public var bulkBytesPerSecond: Int
    /// Bus number and device address now (the address changes at every replug; usbredirect
    /// names a device by `BUS-ADDRESS`).
    public var bus: Int?
    public var address: Int?

    public init(id: String, vendorId: String?, productId: String?, serial: String? = nil, product: String? = nil,
                periodicBytesPerSecond: Int, bulkBytesPerSecond: Int = 0, bus: Int? = nil, address: Int? = nil) {
        self.bus = bus
        self.address = address
        self.id = id
        self.vendorId = vendorId
        self.productId = productId
        self.serial = serial
        self.product = product
        self.periodicBytesPerSecond = periodicBytesPerSecond
        self.bulkBytesPerSecond = bulkBytesPerSecond
    }
}

public struct RegisteredVM: Sendable, Equatable, Codable {
    public var name: String
    public var cpus: Int
    public var memoryMiB: Int
    public var networkMbps: Int
    public var datastore: String
    public var containers: [String]
    /// QEMU's run state as the agent last saw it.
    public var status: VMRunState
    /// The VM's operator QMP socket on its host (nil: the agent holds the only one).
    public var monitor: String?
    /// How its host started it: what another host needs to start it from its disk when its host
    /// is gone. nil for a VM the agent adopted by its QMP socket (it cannot be restarted elsewhere).
    public var launch: VMLaunch?

    public init(name: String, cpus: Int, memoryMiB: Int, networkMbps: Int, datastore: String, containers: [String] = [],
                status: VMRunState = .running) {
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.networkMbps = networkMbps
        self.datastore = datastore
        self.containers = containers
        self.status = status
    }
}

extension AgentRegistration {
    /// Every problem at once, so that a misconfigured agent is fixed in one go.
    public func validate() throws(TetherError) {
        var problems: [String] = []
        func name(_ value: String, _ what: String) {
            if !APINames.isValid(value) { problems.append("\(what) '\(value)' \(APINames.rule)") }
        }
        name(host, "host")
        if let revision, !APILimits.revisions.contains(revision) { problems.append("revision must be 1 to \(APILimits.revisions.upperBound), not \(revision)") }
        if agentAddress.port == 0 { problems.append("agentAddress '\(agentAddress)' needs a port") }
        if !(1...APILimits.cpus).contains(cpus) { problems.append("cpus must be 1 to \(APILimits.cpus), not \(cpus)") }
        if !(1...APILimits.memoryMiB).contains(memoryMiB) { problems.append("memoryMiB must be 1 to \(APILimits.memoryMiB), not \(memoryMiB)") }
        for (role, link) in networks.sorted(by: { $0.key < $1.key }) where !(0...APILimits.mbps).contains(link.mbps) {
            problems.append("network \(role.rawValue): mbps must be 0 to \(APILimits.mbps)")
        }
        for store in datastores { name(store, "datastore") }
        var seen = Set<String>()
        for device in devices {
            name(device.id, "device")
            if !seen.insert(device.id).inserted { problems.append("device '\(device.id)' is listed twice") }
            if !(0...APILimits.bytesPerSecond).contains(device.periodicBytesPerSecond) || !(0...APILimits.bytesPerSecond).contains(device.bulkBytesPerSecond) {
                problems.append("device '\(device.id)': figures must be 0 to \(APILimits.bytesPerSecond) bytes per second")
            }
            // As libusb reads them: four hex digits; a serial names one device in `VID:PID:SERIAL`.
            for (what, id) in [("vendorId", device.vendorId), ("productId", device.productId)] {
                if let id, DeviceSelector.hex4(id) == nil { problems.append("device '\(device.id)': \(what) '\(id)' is not four hex digits") }
            }
            if let serial = device.serial, serial.isEmpty || serial.utf8.count > 255 || serial.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                problems.append("device '\(device.id)': a serial is 1 to 255 bytes of printable characters")
            }
        }
        seen.removeAll()
        for vm in vms {
            name(vm.name, "vm")
            if !seen.insert(vm.name).inserted { problems.append("vm '\(vm.name)' is listed twice") }
            if !(1...APILimits.cpus).contains(vm.cpus) || !(1...APILimits.memoryMiB).contains(vm.memoryMiB) {
                problems.append("vm '\(vm.name)': cpus must be 1 to \(APILimits.cpus) and memoryMiB 1 to \(APILimits.memoryMiB)")
            }
            if !(0...APILimits.mbps).contains(vm.networkMbps) { problems.append("vm '\(vm.name)': networkMbps must be 0 to \(APILimits.mbps)") }
            if let launch = vm.launch {
                do { try launch.validate() } catch { problems.append("vm '\(vm.name)': \(error.message)") }
            }
            for container in vm.containers { name(container, "container") }
        }
        if let fencing, !(fencing.deadlineSeconds > 0) {
            problems.append("fencing: deadlineSeconds must be more than 0, not \(fencing.deadlineSeconds)")
        }
        if !problems.isEmpty {
            throw TetherError(.invalidArgument, "registration of '\(host)' is invalid: " + problems.joined(separator: "; "))
        }
    }
}

/// Names that travel in paths, session ids and logs.
public enum APINames {
    public static let rule = "must be 1 to 63 letters, digits, '-', '.' or '_'"

    /// On the bytes: every request checks its names, and a CharacterSet lookup per scalar was
    /// a few percent of a dry-run decision.
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        return !bytes.isEmpty && bytes.count <= 63 && bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"): true
            default: false
            }
        }
    }
}

