import Channel
import Foundation
import Hypervisor
import Logging
import TetherModel

/// The agent's VMs: their state, a migration in and out, and the copies that end.
extension HostAgentService {
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
        try checkLaunchable(request.launch)
        let name = request.launch.name
        try beginStarting(name)
        defer { startingVMs.remove(name) }
        if let vm = vms[name] {
            let status = try? await vm.machine.status()
            if let incoming = vm.incoming, status == .inmigrate { return incoming }
            guard status == .postmigrate else {
                throw TetherError(.busy, "\(settings.host) already runs \(name); it cannot also receive it")
            }
            // The stopped source of an earlier migration away: the VM comes back, to a fresh QEMU.
            await vm.machine.kill()
            await forget(name, vm, movedTo: settings.host)
        }
        let network = request.via ?? .migration
        guard network == .migration || network == .management else {
            throw TetherError(.invalidArgument, "a VM's state comes over the migration or the management network, not \(network.rawValue)")
        }
        let port = try LocalPorts.free(on: settings.address(on: network))
        let address = HostPort(host: settings.address(on: network), port: port)
        let started = ContinuousClock.now
        var launched = started, relayed = started
        do {
            let machine = try await driver.launch(try request.launch.spec(incoming: true, directory: settings.stateDirectory, datastores: settings.datastores, pathStates: pathStates),
                                                 in: settings.stateDirectory)
            launched = .now
            do {
                // Its forwarded devices first: a migration loads only into the same devices.
                for end in request.channels {
                    let relay = try await startRelayEnd(session: end.session, to: end.from, deviceHost: end.deviceHost)
                    let id = Self.redirectionID(end.session)
                    channels[end.session] = ChannelEnd(vm: name, relay: relay, redirection: id, from: end.from, deviceHost: end.deviceHost)
                    guard let socket = relay.socketPath else { throw TetherError(.internalError, "a channel end without its socket") }
                    try await machine.attachUSBRedirection(id: id, socketPath: socket)
                }
                relayed = .now
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
            watchGuest(name, machine)
            try? VMRecord(registration: registration, launch: request.launch, qmpSocket: nil).save(in: settings.stateDirectory)   // clears any tombstone
        } catch {
            throw TetherError(.io, "cannot start \(name) on \(settings.host) to receive it", cause: "\(error)")
        }
        let milliseconds = { (from: ContinuousClock.Instant, to: ContinuousClock.Instant) in "\(Int((to - from).timeInterval * 1000))" }
        logger.info("waiting for VM", metadata: ["vm": "\(name)", "at": "\(address)", "launch_ms": "\(milliseconds(started, launched))",
                                                 "channels_ms": "\(milliseconds(launched, relayed))", "incoming_ms": "\(milliseconds(relayed, .now))"])
        return address
    }

    public func startMigration(vm name: String, to address: HostPort, target: String) async throws(TetherError) {
        try await startMigration(vm: name, to: address, target: target, maxBandwidth: nil)
    }

    /// A live migration (of a paused VM: its state) to `address`, optionally capped below the
    /// configured bandwidth.
    func startMigration(vm name: String, to address: HostPort, target: String, maxBandwidth: Int?) async throws(TetherError) {
        guard let vm = vms[name] else { throw TetherError(.notFound, "\(settings.host) does not run \(name)") }
        if let migration = vm.migration, !migration.status.isFinished { return }
        let machine = vm.machine
        var options = settings.migration
        if let maxBandwidth { options.maxBandwidthBytesPerSecond = maxBandwidth }
        if let tls = settings.migrationTLS {
            options.tls = tls
            options.targetName = target
        }
        vms[name]?.migration = MigrationReport(status: .setup, transferredBytes: 0, totalBytes: 0)
        logger.info("migrating VM", metadata: ["vm": "\(name)", "to": "\(address)"])
        Task {
            do {
                let result = try await machine.migrateOut(uri: "tcp:\(address)", options: options) { progress in
                    Task { await self.migrationProgressed(name, progress) }
                }
                self.migrationEnded(name, MigrationReport(status: .completed, transferredBytes: result.transferredBytes,
                                                                totalBytes: result.transferredBytes, downtimeMs: result.downtimeMs))
            } catch {
                self.migrationEnded(name, MigrationReport(status: .failed, transferredBytes: 0, totalBytes: 0, error: "\(error)"))
            }
        }
    }

    func migrationProgressed(_ name: String, _ progress: MigrationProgress) {
        guard let current = vms[name]?.migration, !current.status.isFinished else { return }
        vms[name]?.migration = MigrationReport(status: progress.status, transferredBytes: progress.transferredBytes,
                                               totalBytes: progress.totalBytes)
    }

    func migrationEnded(_ name: String, _ report: MigrationReport) {
        vms[name]?.migration = report
        logger.info("migration ended", metadata: ["vm": "\(name)", "status": "\(report.status)", "error": "\(report.error ?? "")"])
    }

    /// Quits this host's copy of a VM that now runs elsewhere.
    public func release(vm name: String, movedTo host: String?) async throws(TetherError) {
        guard let vm = vms[name] else { return }
        let status = try? await vm.machine.status()
        guard status == .postmigrate || status == nil else {
            throw TetherError(.busy, "\(name) is \(status?.description ?? "unknown") on \(settings.host); only a copy whose state went elsewhere is released")
        }
        try? await vm.machine.quit()
        await forget(name, vm, movedTo: host ?? "another host")
        logger.info("released VM", metadata: ["vm": "\(name)"])
    }

    /// A local copy that is gone (quit or killed) because the VM runs on `host` now: no longer
    /// managed here, remembered so that a restart does not start the configured VM here again,
    /// and its channel ends closed.
    func forget(_ name: String, _ vm: ManagedVM, movedTo host: String) async {
        vms[name] = nil
        try? VMRecord(registration: vm.registration, launch: vm.launch, qmpSocket: nil, movedTo: host).save(in: settings.stateDirectory)
        await dropChannels(of: name)
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
}
