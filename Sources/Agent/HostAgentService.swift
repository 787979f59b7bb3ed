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

    private var vms: [String: ManagedVM] = [:]
    private var exports: [String: Export] = [:]
    private var channels: [String: ChannelEnd] = [:]
    private(set) var devices: [RegisteredDevice] = []
    let exporterRecord: ExporterRecord

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
                machine = try await driver.launch(try launch.spec(incoming: false, directory: settings.stateDirectory), in: settings.stateDirectory)
                logger.info("started VM", metadata: ["vm": "\(name)"])
            } else {
                VMRecord.remove(name, in: settings.stateDirectory)   // it arrived once and has gone since
                continue
            }
            vms[name] = ManagedVM(machine: machine, registration: record.registration, launch: record.launch)
            if record.launch != nil { try? record.save(in: settings.stateDirectory) }
        }
        _ = refreshDevices()
    }

    /// Takes the inventory again; true when it changed.
    public func refreshDevices() -> Bool {
        do {
            let fresh = try probeDevices()
            defer { devices = fresh }
            return fresh != devices
        } catch {
            logger.error("USB inventory failed: \(error)")
            return false
        }
    }

    /// The host as the controller should see it now (asks each VM its run state).
    public func registration() async -> AgentRegistration {
        var registered: [RegisteredVM] = []
        for (_, vm) in vms.sorted(by: { $0.key < $1.key }) {
            var entry = vm.registration
            entry.status = (try? await vm.machine.status()) ?? .unreachable
            registered.append(entry)
        }
        return AgentRegistration(host: settings.host, agentAddress: HostPort(host: settings.publicAddress, port: settings.listen.port),
                                 cpus: settings.cpus, memoryMiB: settings.memoryMiB, networks: settings.networks,
                                 datastores: settings.datastores, devices: devices, vms: registered)
    }

    // MARK: VMs

    public func vm(_ name: String) async throws(TetherError) -> AgentVMState? {
        guard let vm = vms[name] else { return nil }
        let status: VMRunState
        do { status = try await vm.machine.status() } catch {
            throw TetherError(.io, "QEMU for \(name) does not answer", cause: "\(error)")
        }
        let redirections = (try? await vm.machine.usbRedirectionIDs()) ?? []
        let usb = ((try? await vm.machine.usbDevices()) ?? []).map {
            VMUSBDevice(address: $0.device, port: $0.port, speed: $0.speed, product: $0.product, id: $0.id)
        }
        var launch = vm.launch
        if launch != nil, launch?.machineType == nil, let type = try? await vm.machine.machineType() {
            // Asked once: a migration's target must be started with the same versioned type.
            launch?.machineType = type
            vms[name]?.launch = launch
        }
        var state = AgentVMState(name: name, status: status, launch: launch, migration: vm.migration, redirections: redirections,
                                 registration: vm.registration)
        state.usb = usb
        state.channels = channelEnds(of: name)
        return state
    }

    public func prepareIncoming(_ request: IncomingRequest) async throws(TetherError) -> HostPort {
        let name = request.launch.name
        if let vm = vms[name] {
            if let incoming = vm.incoming, (try? await vm.machine.status()) == .inmigrate { return incoming }
            throw TetherError(.busy, "\(settings.host) already runs \(name); it cannot also receive it")
        }
        let port = try LocalPorts.free(on: settings.publicAddress)
        let address = HostPort(host: settings.publicAddress, port: port)
        do {
            let machine = try await driver.launch(try request.launch.spec(incoming: true, directory: settings.stateDirectory),
                                                 in: settings.stateDirectory)
            do {
                // Its forwarded devices first: a migration loads only into the same devices.
                for end in request.channels {
                    let relay = try await startRelayEnd(session: end.session, to: end.from, deviceHost: end.deviceHost, port: end.listenPort)
                    let id = Self.redirectionID(end.session)
                    channels[end.session] = ChannelEnd(vm: name, relay: relay, redirection: id, from: end.from, deviceHost: end.deviceHost)
                    try await machine.attachUSBRedirection(id: id, host: "127.0.0.1", port: relay.port)
                }
                // Over mutual TLS with the cluster's certificates, from the named source only.
                try await machine.prepareIncoming(uri: "tcp:\(address)", tls: settings.migrationTLS,
                                                  sourceName: settings.migrationTLS == nil ? nil : request.source)
            } catch {
                await machine.kill()
                await dropChannels(of: name)
                throw error
            }
            let registration = request.registration ?? RegisteredVM(name: name, cpus: request.launch.cpus,
                                                                    memoryMiB: request.launch.memoryMiB, networkMbps: 0, datastore: "")
            vms[name] = ManagedVM(machine: machine, registration: registration, launch: request.launch, incoming: address)
            try? VMRecord(registration: registration, launch: request.launch, qmpSocket: nil).save(in: settings.stateDirectory)   // clears any tombstone
        } catch {
            throw TetherError(.io, "cannot start \(name) on \(settings.host) to receive it", cause: "\(error)")
        }
        logger.info("waiting for VM", metadata: ["vm": "\(name)", "at": "\(address)"])
        return address
    }

    public func startMigration(vm name: String, to address: HostPort, target: String) async throws(TetherError) {
        let request = MigrateRequest(vm: name, to: address, target: target)
        guard let vm = vms[request.vm] else { throw TetherError(.notFound, "\(settings.host) does not run \(request.vm)") }
        if let migration = vm.migration, !migration.status.isFinished { return }
        let machine = vm.machine
        var options = settings.migration
        if let tls = settings.migrationTLS {
            options.tls = tls
            options.targetName = target
        }
        vms[request.vm]?.migration = MigrationReport(status: .setup, transferredBytes: 0, totalBytes: 0)
        logger.info("migrating VM", metadata: ["vm": "\(request.vm)", "to": "\(request.to)"])
        Task {
            do {
                let result = try await machine.migrateOut(uri: "tcp:\(request.to)", options: options) { progress in
                    Task { await self.migrationProgressed(request.vm, progress) }
                }
                self.migrationEnded(request.vm, MigrationReport(status: .completed, transferredBytes: result.transferredBytes,
                                                                totalBytes: result.transferredBytes, downtimeMs: result.downtimeMs))
            } catch {
                self.migrationEnded(request.vm, MigrationReport(status: .failed, transferredBytes: 0, totalBytes: 0, error: "\(error)"))
            }
        }
    }

    private func migrationProgressed(_ name: String, _ progress: MigrationProgress) {
        guard let current = vms[name]?.migration, !current.status.isFinished else { return }
        vms[name]?.migration = MigrationReport(status: progress.status, transferredBytes: progress.transferredBytes,
                                               totalBytes: progress.totalBytes)
    }

    private func migrationEnded(_ name: String, _ report: MigrationReport) {
        vms[name]?.migration = report
        logger.info("migration ended", metadata: ["vm": "\(name)", "status": "\(report.status)", "error": "\(report.error ?? "")"])
    }

    private func channelEnds(of vm: String) -> [ChannelEndState] {
        channels.filter { $0.value.vm == vm }.compactMap { session, end in
            end.relay.map { ChannelEndState(session: session, listenPort: $0.port, from: end.from, deviceHost: end.deviceHost) }
        }.sorted { $0.session < $1.session }
    }

    /// Stops the relay ends that fed a VM which is no longer here.
    private func dropChannels(of vm: String) async {
        for (session, end) in channels where end.vm == vm {
            channels[session] = nil
            await end.relay?.stop()
        }
    }

    /// Quits this host's copy of a VM that now runs elsewhere.
    public func release(vm name: String, movedTo host: String?) async throws(TetherError) {
        guard let vm = vms[name] else { return }
        let status = try? await vm.machine.status()
        guard status == .postmigrate || status == nil else {
            throw TetherError(.busy, "\(name) is \(status?.description ?? "unknown") on \(settings.host); only a copy whose state went elsewhere is released")
        }
        try? await vm.machine.quit()
        vms[name] = nil
        // Remembered, so that a restart does not start the configured VM here again.
        try? VMRecord(registration: vm.registration, launch: vm.launch, qmpSocket: nil, movedTo: host ?? "another host").save(in: settings.stateDirectory)
        await dropChannels(of: name)
        logger.info("released VM", metadata: ["vm": "\(name)"])
    }

    /// Quits a VM that never received its state.
    public func abandonIncoming(vm name: String) async throws(TetherError) {
        guard let vm = vms[name] else { return }
        let status = try? await vm.machine.status()
        guard status == .inmigrate || status == nil else {
            throw TetherError(.busy, "\(name) is \(status?.description ?? "unknown") on \(settings.host); only a VM still waiting for its state is abandoned")
        }
        await vm.machine.kill()
        vms[name] = nil
        VMRecord.remove(name, in: settings.stateDirectory)
        await dropChannels(of: name)
        logger.info("abandoned incoming VM", metadata: ["vm": "\(name)"])
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
        guard vmsToo else { return }
        for (name, vm) in vms {
            await vm.machine.kill()
            VMRecord.remove(name, in: settings.stateDirectory)
        }
        vms.removeAll()
    }

    // MARK: devices

    public func export(_ request: ExportRequest) async throws(TetherError) -> HostPort {
        if let existing = exports[request.session] {
            // Asked again, perhaps for the VM's next host: that host may take the session over.
            existing.relay?.permit(request.allow)
            return existing.address
        }
        guard let device = devices.first(where: { $0.id == request.device }) else {
            throw TetherError(.notFound, "\(settings.host) has no device \(request.device) plugged in")
        }
        // usbredirect names a device by BUS-ADDRESS (or VID:PID, ambiguous with two alike).
        let selector = device.bus.flatMap { bus in device.address.map { "\(bus)-\($0)" } }
            ?? "\(device.vendorId ?? "0000"):\(device.productId ?? "0000")"
        let port = try LocalPorts.free()
        let logger = self.logger
        let record = exporterRecord
        let supervisor = ExporterSupervisor(device: selector, listen: "127.0.0.1:\(port)", program: settings.exporterProgram,
                                            started: { record.note($0) }) { line in
            logger.info("\(line)", metadata: ["session": "\(request.session)"])
        }
        do { try supervisor.start() } catch {
            throw TetherError(.io, "cannot start the exporter for \(request.device)", cause: "\(error)")
        }
        guard await LocalPorts.waitListening(port, within: .seconds(10)) else {
            await supervisor.stop()
            let why = supervisor.exits.last.map { "it exited with status \($0.status): \($0.output)" } ?? "it did not listen"
            throw TetherError(.io, "the exporter for \(request.device) did not start on port \(port): \(why)")
        }
        var export = Export(supervisor: supervisor, relay: nil, address: HostPort(host: "127.0.0.1", port: port))
        if !request.local {
            do {
                let relay = try await ChannelRelay.start(.serve, listenHost: settings.publicAddress, listenPort: 0, targetHost: "127.0.0.1",
                                                         targetPort: port, identity: identity, allow: Set(request.allow)) { line in
                    logger.info("\(line)", metadata: ["session": "\(request.session)"])
                }
                export.relay = relay
                export.address = HostPort(host: settings.publicAddress, port: relay.port)
            } catch {
                await supervisor.stop()
                throw TetherError(.io, "cannot start the relay for \(request.device)", cause: "\(error)")
            }
        }
        exports[request.session] = export
        logger.info("exported device", metadata: ["device": "\(request.device)", "at": "\(export.address)"])
        return export.address
    }

    public func stopExport(session: String) async {
        guard let export = exports.removeValue(forKey: session) else { return }
        await export.relay?.stop()
        await export.supervisor.stop()
        logger.info("stopped export", metadata: ["session": "\(session)"])
    }

    /// QEMU ids: a letter first, then letters, digits, '-', '.', '_'.
    static func redirectionID(_ session: String) -> String {
        "tether-" + session.replacingOccurrences(of: "/", with: ".")
    }

    public func openChannel(_ request: ChannelRequest) async throws(TetherError) {
        guard let vm = vms[request.vm] else { throw TetherError(.notFound, "\(settings.host) does not run \(request.vm)") }
        let id = Self.redirectionID(request.session)
        let present = (try? await vm.machine.usbRedirectionIDs()) ?? []
        if channels[request.session] != nil, present.contains(id) { return }
        var end = channels[request.session]
            ?? ChannelEnd(vm: request.vm, relay: nil, redirection: id, from: request.from, deviceHost: request.deviceHost)
        var feed = request.from
        if !request.local {
            if end.relay == nil { end.relay = try await startRelayEnd(session: request.session, to: request.from, deviceHost: request.deviceHost) }
            feed = HostPort(host: "127.0.0.1", port: end.relay?.port ?? 0)
        }
        channels[request.session] = end
        if !present.contains(id) {
            do {
                try await vm.machine.attachUSBRedirection(id: id, host: feed.host, port: feed.port)
            } catch {
                throw TetherError(.io, "cannot add usb-redir \(id) to \(request.vm)", cause: "\(error)")
            }
        }
        logger.info("opened channel", metadata: ["vm": "\(request.vm)", "device": "\(id)", "from": "\(feed)"])
    }

    /// The VM's end of a channel: a relay on the loopback (on `port`, or any free one) carrying
    /// the session to the device host's serve end over mutual TLS.
    private func startRelayEnd(session: String, to address: HostPort, deviceHost: String, port: Int = 0) async throws(TetherError) -> ChannelRelay {
        let logger = self.logger
        do {
            return try await ChannelRelay.start(.connect, listenHost: "127.0.0.1", listenPort: port, targetHost: address.host,
                                                targetPort: address.port, identity: identity, allow: [deviceHost], session: session) { line in
                logger.info("\(line)", metadata: ["session": "\(session)"])
            }
        } catch {
            throw TetherError(.io, "cannot start the relay to \(address)", cause: "\(error)")
        }
    }

    public func closeChannel(session: String, vm: String?) async throws(TetherError) {
        let end = channels.removeValue(forKey: session)
        let id = Self.redirectionID(session)
        if let name = vm ?? end?.vm, let vm = vms[name], ((try? await vm.machine.usbRedirectionIDs()) ?? []).contains(id) {
            do { try await vm.machine.detachUSBRedirection(id: id) } catch {
                throw TetherError(.io, "cannot remove usb-redir \(id) from \(name)", cause: "\(error)")
            }
        }
        await end?.relay?.stop()
        logger.info("closed channel", metadata: ["session": "\(session)"])
    }
}
