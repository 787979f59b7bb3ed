import Channel
import Foundation
import Hypervisor
import Logging
import TetherModel
import TetherSystem

/// What an agent does on its host: runs its VMs (QEMU over QMP), exports its USB devices, and
/// opens channels into its VMs. Each action is idempotent, keyed by VM name or by the
/// attachment's session id, so a controller that asks again after a crash gets the same answer.
public actor HostAgentService: HostAgent {
    public let settings: AgentSettings
    public nonisolated var host: String { settings.host }
    let identity: TLSIdentity
    let logger: Logger
    private let probeDevices: @Sendable () throws(TetherError) -> [RegisteredDevice]
    /// The hypervisor: every VM is driven through `VirtualMachineControl`.
    let driver: any VirtualMachineDriver

    struct ManagedVM {
        var machine: any VirtualMachineControl
        var registration: RegisteredVM
        var launch: VMLaunch?
        /// Where it waits for its state, while it does.
        var incoming: HostPort?
        var migration: MigrationReport?
    }

    struct Export {
        /// The device's port on this host, and how usbredirect names it (its address then).
        var device: String
        var selector: String
        var supervisor: ExporterSupervisor
        var relay: ChannelRelay?
        var address: HostPort
    }

    struct ChannelEnd {
        var vm: String
        var relay: ChannelRelay?
        var redirection: String
        var from: HostPort
        var deviceHost: String
    }

    var vms: [String: ManagedVM] = [:]
    var exports: [String: Export] = [:]
    /// Exports of devices that left, being stopped in the background (`stopExportInBackground`),
    /// by a number of their own.
    var exportsStopping: [Int: Task<Void, Never>] = [:]
    var exportStopsBegun = 0
    var channels: [String: ChannelEnd] = [:]
    private(set) var devices: [RegisteredDevice] = []
    /// Each datastore path's state as this host last measured it (unknown until measured).
    var pathStates: [String: HealthState] = [:]
    /// VMs whose QEMU is being started here now (incoming or from disk).
    var startingVMs: Set<String> = []
    /// VMs whose disk is moving to another path now.
    var switchingDisks: Set<String> = []
    /// Datastores this host has lost every path to, since their last success.
    var storageLostSince: [String: Date] = [:]
    /// Those of them the controller took the report of; the others are reported again each round.
    var storageLossReported: Set<String> = []
    /// VMs seen paused in io-error, since when (on both clocks: the path records carry dates);
    /// and those reported as having lost every IO path.
    var stalledSince: [String: (instant: ContinuousClock.Instant, date: Date)] = [:]
    var reportedStalls: Set<String> = []
    /// When a VM's stuck disk connections were last closed, with its path shown working.
    var stuckConnectionsCut: [String: ContinuousClock.Instant] = [:]
    /// The loss of the migration and VM networks was reported (until one of them is back).
    var reportedNetworkLoss = false
    var networksSeenWorking: Set<NetworkRole> = []
    var networksLostSince: Date?
    /// Guests seen crashed, until restarted (`HostAgentService+Crash.swift`).
    var crashes: [String: CrashSighting] = [:]
    /// VMs paused because this host found itself isolated, until the cluster answers again.
    /// The VMs fenced while isolated, each with whether it ran then (only those run again).
    var fenced: [String: Bool] = [:]
    /// Where this host's own faults are reported (the controller).
    var faultReporter: FaultReporter?
    /// Whether faults the controller also sees from outside are reported (`selfTriggeredFailover`).
    var reportsOutsideFaults = true
    let exporterRecord: ExporterRecord
    /// When this agent started: tells the controller, at each registration, whether the agent
    /// it talks to is the one that holds its exports and channel ends.
    let started = Date()

    public init(settings: AgentSettings, identity: TLSIdentity, logger: Logger, driver: any VirtualMachineDriver = QEMUDriver(),
                probeDevices: @escaping @Sendable () throws(TetherError) -> [RegisteredDevice]) {
        self.driver = driver
        self.settings = settings
        self.identity = identity
        self.logger = logger
        self.probeDevices = probeDevices
        self.exporterRecord = ExporterRecord(directory: settings.stateDirectory)
    }

    /// Starts or adopts the configured VMs and takes the first inventory. A VM whose QEMU still
    /// answers on its socket (this agent restarted; the VM did not) is adopted, never started a
    /// second time; so is a VM that arrived by migration before the restart, found by the record
    /// kept beside its socket.
    public func start() async throws {
        try FileManager.default.createDirectory(atPath: settings.stateDirectory, withIntermediateDirectories: true)
        exporterRecord.stopLeftovers(logger: logger)
        loadFenced()
        var records = VMRecord.all(in: settings.stateDirectory)
        for vm in settings.vms { records[vm.registration.name] = records[vm.registration.name] ?? VMRecord(vm) }
        for (name, record) in records.sorted(by: { $0.key < $1.key }) where vms[name] == nil {
            if let host = record.movedTo {
                logger.notice("not starting a VM that moved away", metadata: ["vm": "\(name)", "to": "\(host)",
                                                                                "record": "\(VMRecord.path(name, in: settings.stateDirectory))"])
                continue
            }
            let socket = record.qmpSocket ?? "\(settings.stateDirectory)/\(name).qmp"
            let machine: any VirtualMachineControl
            if FileManager.default.fileExists(atPath: socket),
               let running = try? await driver.adopt(controlSocket: socket, name: name, timeout: .seconds(2)) {
                machine = running
                logger.notice("adopted a running VM", metadata: ["vm": "\(name)"])
            } else if record.qmpSocket != nil {
                throw TetherError(.io, "vm '\(name)': nothing answers on its QMP socket \(socket)")
            } else if let launch = record.launch, settings.vms.contains(where: { $0.registration.name == name }) {
                machine = try await driver.launch(try launch.spec(incoming: false, directory: settings.stateDirectory, datastores: settings.datastores, pathStates: pathStates), in: settings.stateDirectory)
                logger.info("started VM", metadata: ["vm": "\(name)"])
            } else {
                VMRecord.remove(name, in: settings.stateDirectory)   // it arrived once and has gone since
                continue
            }
            vms[name] = ManagedVM(machine: machine, registration: record.registration, launch: record.launch)
            watchGuest(name, machine)
            if record.launch != nil { try? record.save(in: settings.stateDirectory) }
        }
        _ = await refreshDevices()
    }

    /// Takes the inventory again; true when it changed.
    public func refreshDevices() async -> Bool {
        do {
            let fresh = try probeDevices()
            defer { devices = fresh }
            dropExportsOfDevicesGone(fresh)
            return fresh != devices
        } catch {
            logger.error("USB inventory failed: \(error)")
            return false
        }
    }

    /// How long the heartbeat's round waits for each VM's QEMU to say its state. A QEMU whose
    /// `stop` drains a request on a dead storage path holds QMP until TCP gives up on it
    /// (seconds): it reads `unreachable` meanwhile, and the controller still hears this host.
    static let heartbeatStatusWait: Duration = .seconds(1)

    /// The host as the controller should see it now (asks each VM its run state).
    public func registration() async -> AgentRegistration {
        var registered: [RegisteredVM] = []
        // A fenced VM is left out until the cluster has answered whether it was restarted
        // elsewhere meanwhile: listed, it would read as running here again.
        for (_, vm) in vms.sorted(by: { $0.key < $1.key }) where fenced[vm.registration.name] == nil {
            var entry = vm.registration
            entry.launch = vm.launch
            entry.status = (try? await vm.machine.status(within: Self.heartbeatStatusWait)) ?? .unreachable
            // A guest that crashed with QEMU's panic action `none` still "runs" (halted, or
            // writing its crash files): it is crashed until it starts over.
            if crashes[entry.name] != nil, entry.status == .running { entry.status = .guestPanicked }
            if vm.launch != nil { entry.monitor = "\(settings.stateDirectory)/\(entry.name).monitor.qmp" }
            registered.append(entry)
        }
        return AgentRegistration(host: settings.host, agentAddress: HostPort(host: settings.publicAddress, port: settings.listen.port),
                                 cpus: settings.cpus, memoryMiB: settings.memoryMiB, networks: settings.networks,
                                 datastores: settings.datastores.map(\.name), devices: devices, vms: registered, fencing: settings.fencing,
                                 agentStarted: started)
    }

    /// Stops what this agent started: exporters and relays; VMs it launched only when `vmsToo`.
    public func shutdown(vmsToo: Bool) async {
        for (_, end) in channels { await end.relay?.stop() }
        for (_, export) in exports {
            await export.relay?.stop()
            await export.supervisor.stop()
        }
        channels.removeAll()
        exports.removeAll()
        await awaitExportStops(within: .seconds(5))
        guard vmsToo else { return }
        for (name, vm) in vms {
            await vm.machine.kill()
            VMRecord.remove(name, in: settings.stateDirectory)
        }
        vms.removeAll()
    }
}
