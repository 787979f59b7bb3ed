import Failover
import Foundation
import Hypervisor
import TetherModel

/// The agent's part of the failover flows: seeing its own storage faults (self-triggered) and
/// reporting them, and carrying out the controller's moves (evacuate a VM, resume one that
/// arrived).
extension HostAgentService {
    public typealias FaultReporter = @Sendable (FaultReport) async throws(TetherError) -> FaultReply

    /// Where this host's own faults go (the controller). `seenFromOutsideToo: false` leaves the
    /// faults the controller can see itself (storage lost, migration and VM networks lost) to its
    /// outside view; those only the host sees (a VM's IO paths, a crashed guest) are reported
    /// whatever it says.
    public func reportFaults(seenFromOutsideToo: Bool = true, to reporter: @escaping FaultReporter) {
        faultReporter = reporter
        reportsOutsideFaults = seenFromOutsideToo
    }

    /// A datastore path changed state. A VM whose disk is on a path that went down moves its disk
    /// to another path of this host that is up, keeping its memory: QEMU mirrors onto the new
    /// path, drops the old nodes, and resumes a VM the failed IO had paused, whose held request
    /// is then issued over the new path (shared/notes/qemu-storage-faults.md). When every path
    /// of the datastore is down, the host has lost its storage: its VMs on that datastore must
    /// leave it, and the fault goes to the controller.
    public func pathChanged(datastore: String, path: String, to state: HealthState, lastSuccess: Date? = nil) async {
        pathStates[path] = state
        logger.notice("datastore path \(state.rawValue)", metadata: ["datastore": "\(datastore)", "path": "\(path)"])
        guard let store = settings.datastores.first(where: { $0.name == datastore }) else { return }
        let allDown = !store.paths.isEmpty && store.paths.allSatisfy { pathStates[$0] == .down }
        if !allDown {
            storageLostSince[datastore] = nil
            storageLossReported.remove(datastore)
        }
        guard state == .down, let dead = try? NBDPath(parsing: path) else { return }
        if allDown {
            if storageLostSince[datastore] == nil {
                storageLostSince[datastore] = lastSuccess ?? Date()
                logger.error("storage lost", metadata: ["datastore": "\(datastore)", "vms": "\(vms(on: datastore))"])
                await reportStorageLost(store)
            }
            return
        }
        for (name, vm) in vms.sorted(by: { $0.key < $1.key }) where vm.launch?.datastoreDisk?.datastore == datastore {
            guard !switchingDisks.contains(name), fenced[name] == nil else { continue }
            // Claimed before the first await: a heartbeat round's stalled-disk check would
            // otherwise reopen the same disk meanwhile, one of the two block jobs would fail
            // ("Need a root block node"), and that check would report the VM's IO paths lost
            // and have it moved off a host whose second path works (CI, this machine, once).
            switchingDisks.insert(name)
            defer { switchingDisks.remove(name) }
            guard (try? await vm.machine.diskPath()) == dead else { continue }
            guard let target = store.paths.first(where: { $0 != path && pathStates[$0] == .up }), let to = try? NBDPath(parsing: target) else {
                logger.error("no other path of this host to the datastore is up: the VM waits in io-error", metadata: ["vm": "\(name)"])
                continue
            }
            do {
                let done = try await vm.machine.switchDiskPath(to: to)
                logger.notice("disk moved to another path", metadata: ["vm": "\(name)", "from": "\(path)", "to": "\(target)",
                                                                      "pivotMs": "\(done.pivotMs)", "totalMs": "\(done.totalMs)",
                                                                      "before": "\(done.stateBefore)", "after": "\(done.stateAfter)"])
            } catch {
                logger.error("could not move the disk to another path: \(error)", metadata: ["vm": "\(name)", "to": "\(target)"])
            }
        }
    }

    /// Every path of `store` is down on this host: its VMs on that datastore still run in memory
    /// (or wait in io-error) and must be suspended and moved to a host that reaches the storage.
    /// Until the controller takes the report, it is made again each round while the loss holds
    /// (`reportStorageLossAgain`): one held up while this host was cut off is refused as stale.
    private func reportStorageLost(_ store: DatastoreAccess) async {
        let affected = vms(on: store.name)
        guard let faultReporter, reportsOutsideFaults, !affected.isEmpty, let lastSuccess = storageLostSince[store.name] else { return }
        let evidence = ["\(settings.host): every path to datastore \(store.name) down since \(lastSuccess.formatted(.iso8601)) "
                        + "(\(store.paths.joined(separator: ", ")))"]
        // Marked before the request, so that the next rounds do not ask again while it waits.
        storageLossReported.insert(store.name)
        do {
            let reply = try await faultReporter(FaultReport(host: settings.host, fault: .storage, vms: affected, evidence: evidence,
                                                            faultAt: lastSuccess))
            logger.notice("failover asked", metadata: ["started": "\(reply.started)", "joined": "\(reply.joined)",
                                                       "unplaced": "\(reply.unplaced.map(\.vm))"])
        } catch {
            storageLossReported.remove(store.name)
            // The controller's own view (the heartbeat records stop) may start the failover first.
            logger.error("could not report the storage fault to the controller: \(error)")
        }
    }

    /// The VMs whose disk is on `datastore`, by name.
    func vms(on datastore: String) -> [String] {
        vms.filter { $0.value.launch?.datastoreDisk?.datastore == datastore }.keys.sorted()
    }

    /// The storage losses not yet taken by the controller, reported again; every heartbeat round.
    public func reportStorageLossAgain() async {
        for store in settings.datastores where storageLostSince[store.name] != nil && !storageLossReported.contains(store.name) {
            await reportStorageLost(store)
        }
    }

    public func evacuate(_ request: EvacuateRequest) async throws(TetherError) {
        let name = request.vm
        guard let vm = vms[name] else { throw TetherError(.notFound, "\(settings.host) does not run \(name)") }
        if let migration = vm.migration, !migration.status.isFinished { return }
        guard !switchingDisks.contains(name) else {
            throw TetherError(.busy, "\(name)'s disk is being moved on \(settings.host); ask again shortly")
        }
        if request.leaveStorage {
            switchingDisks.insert(name)
            defer { switchingDisks.remove(name) }
            let started = ContinuousClock.now
            do {
                let left = try await vm.machine.leaveStorage(stepTimeout: .seconds(15))
                logger.notice("disk taken off its datastore", metadata: ["vm": "\(name)", "ms": "\((ContinuousClock.now - started).timeInterval * 1000)",
                                                                       "already": "\(!left)"])
            } catch {
                throw TetherError(.io, "\(name)'s disk could not be taken off its datastore on \(settings.host)", cause: "\(error)")
            }
        }
        try await startMigration(vm: name, to: request.to, target: request.target, maxBandwidth: request.maxBandwidthBytesPerSecond)
    }

    public func resume(vm name: String) async throws(TetherError) -> VMRunState {
        guard let vm = vms[name] else { throw TetherError(.notFound, "\(settings.host) does not run \(name)") }
        do {
            let state = try await vm.machine.resumeAfterMove(timeout: .seconds(10))
            vms[name]?.incoming = nil
            logger.notice("resumed VM", metadata: ["vm": "\(name)", "state": "\(state)"])
            return state
        } catch {
            throw TetherError(.io, "\(name) could not be resumed on \(settings.host)", cause: "\(error)")
        }
    }
}

extension HostAgentService {
    /// How long a VM may wait in `io-error` before its disk is judged stalled, without proof that
    /// the host's storage network works: the path probes' time to call a path down and half a
    /// second, so that a whole storage network lost is told (and moved, as `storage`) before one
    /// VM's paths are.
    static let ioErrorGrace: Duration = .milliseconds(2500)

    /// A VM paused in `io-error` with its host's paths up: its own connections failed. Each
    /// path of the host that is up is tried (a fresh connection, even on the path in use); when
    /// none takes the disk, every IO path of that VM has failed here, and the VM must move live
    /// to a host whose path works (`io-paths`). Called every heartbeat round, with the host's
    /// path reports: a heartbeat record written on a path of the VM's datastore after the VM's
    /// IO failed proves that the storage network works, and the disk is tried at once rather
    /// than after `ioErrorGrace` (2.5 s sooner to the failover when it must move).
    public func checkStalledDisks(paths: [DatastoreReport] = [], at now: ContinuousClock.Instant = .now) async {
        for (name, vm) in vms.sorted(by: { $0.key < $1.key }) {
            // A fenced VM waits for the cluster's word: resuming it could run it twice. One that
            // migrated away is left behind, off its datastore, until released: never checked.
            guard let disk = vm.launch?.datastoreDisk, !switchingDisks.contains(name), fenced[name] == nil,
                  vm.migration.map(\.status.isFailure) ?? true else { continue }
            var state = try? await vm.machine.status(within: Self.heartbeatStatusWait)
            if state == .running, await cutStuckConnections(name, vm.machine, datastore: disk.datastore, paths: paths) {
                // The request fails as its connection closes: judged in this round, not the next.
                state = await vm.machine.settledState(leaving: .running, within: .milliseconds(300), askingWithin: Self.heartbeatStatusWait)
            }
            guard state == .ioError else {
                stalledSince[name] = nil
                continue
            }
            let stalled = stalledSince[name] ?? (now, Date())
            stalledSince[name] = stalled
            let since = stalled.instant
            let cutRecently = stuckConnectionsCut[name].map { now - $0 < .seconds(2) } ?? false
            let storageWorks = cutRecently || Self.pathWroteAfter(stalled.date, on: disk.datastore, in: paths)
            guard storageWorks || now - since >= Self.ioErrorGrace, storageLostSince[disk.datastore] == nil, !reportedStalls.contains(name),
                  let store = settings.datastores.first(where: { $0.name == disk.datastore }) else { continue }
            // Again, after this round's awaits: a path that went down meanwhile may be moving
            // this disk now (`pathChanged`); reopenDisk claims it before its own first await.
            guard !switchingDisks.contains(name) else { continue }
            if await reopenDisk(name, vm.machine, over: store.paths.filter { pathStates[$0] == .up }) {
                stalledSince[name] = nil
                continue
            }
            reportedStalls.insert(name)
            let waited = (now - since).timeInterval
            let evidence = ["\(name) paused in io-error on \(settings.host) for \(String(format: "%.1f", waited)) s "
                            + "while the host's paths to \(disk.datastore) answer"
                            + (cutRecently ? " (its disk connection, unacknowledged while the host's heartbeat records on that path went through, was closed)"
                               : storageWorks ? " (a heartbeat record written on one after its IO failed)" : "")
                            + "; reopening the disk over each of them failed"]
            logger.error("every IO path of the VM failed", metadata: ["vm": "\(name)"])
            guard let faultReporter else { continue }
            do {
                let reply = try await faultReporter(FaultReport(host: settings.host, fault: .ioPaths, vms: [name], evidence: evidence,
                                                                faultAt: Date().addingTimeInterval(-waited)))
                logger.notice("failover asked", metadata: ["started": "\(reply.started)", "joined": "\(reply.joined)"])
            } catch {
                reportedStalls.remove(name)   // asked again next round
                logger.error("could not report the VM's lost IO paths to the controller: \(error)")
            }
        }
        for name in reportedStalls where vms[name] == nil { reportedStalls.remove(name) }
    }

    /// How many retransmission timeouts in a row a VM's disk connection may go unacknowledged,
    /// while this host's heartbeat records go through on the same path, before it is closed
    /// (`StuckConnection`): 2 is 0.6 s at least, well before TCP itself gives up (3 s).
    static let stuckConnectionBackoff = 2

    /// Closes `name`'s disk connections stuck while its path works for this host: a heartbeat
    /// record written on that path after the connection's last acknowledgement (its
    /// retransmission timeouts tell how long ago that was at least). QEMU's request fails at
    /// once, the VM pauses in `io-error`, and the next round reopens the disk or reports its IO
    /// paths lost. A path that died for the host too has no such record: the storage flow's.
    /// True when it closed any.
    private func cutStuckConnections(_ name: String, _ machine: any VirtualMachineControl, datastore: String, paths: [DatastoreReport]) async -> Bool {
        do {
            guard let (path, stuck) = try await machine.stuckDiskConnections(backoff: Self.stuckConnectionBackoff), !stuck.isEmpty,
                  let written = paths.first(where: { $0.name == datastore })?.paths
                      .first(where: { (try? NBDPath(parsing: $0.uri)) == path })?.lastSuccess else { return false }
            let proven = stuck.filter { written > Date().addingTimeInterval(-$0.silentAtLeast.timeInterval) }
            guard !proven.isEmpty else { return false }
            try machine.closeConnections(proven)
            stuckConnectionsCut[name] = .now
            logger.warning("closed a stuck disk connection", metadata: ["vm": "\(name)", "path": "\(path)", "connections": "\(proven)",
                                                                       "heartbeat": "\(written.formatted(.iso8601))"])
            return true
        } catch {
            logger.warning("could not look at the disk's connections: \(error)", metadata: ["vm": "\(name)"])
            return false
        }
    }

    /// Whether a path of `datastore` wrote its heartbeat record after `date`.
    static func pathWroteAfter(_ date: Date, on datastore: String, in paths: [DatastoreReport]) -> Bool {
        paths.first { $0.name == datastore }?.paths.contains { ($0.lastSuccess ?? .distantPast) > date } ?? false
    }

    /// Tries each path in turn; true once the disk is on one and the VM runs again.
    private func reopenDisk(_ name: String, _ machine: any VirtualMachineControl, over paths: [String]) async -> Bool {
        switchingDisks.insert(name)
        defer { switchingDisks.remove(name) }
        for uri in paths {
            guard let path = try? NBDPath(parsing: uri) else { continue }
            do {
                let done = try await machine.switchDiskPath(to: path)
                logger.notice("stalled disk reopened", metadata: ["vm": "\(name)", "path": "\(uri)", "after": "\(done.stateAfter)"])
                if done.stateAfter == .running { return true }
            } catch {
                logger.warning("reopening the stalled disk failed: \(error)", metadata: ["vm": "\(name)", "path": "\(uri)"])
            }
        }
        return false
    }
}

extension HostAgentService {
    /// The migration and VM networks both down on this host (no link, no peer): its VMs are cut
    /// off from their users and cannot move the usual way. The controller, still reached on
    /// management, moves them over a migration path on the management network. Reported once
    /// per loss; called every heartbeat round.
    public func checkNetworks(_ report: HostHealthReport) async {
        // Only a network seen working since the agent started can be lost: at the start, before
        // any peer answered, every network reads down.
        for (role, network) in report.networks where network.state == .up || network.state == .partial { networksSeenWorking.insert(role) }
        let lost = [NetworkRole.migration, .vm].allSatisfy { report.networks[$0]?.state == .down && networksSeenWorking.contains($0) }
        guard lost else {
            reportedNetworkLoss = false
            networksLostSince = nil
            return
        }
        // Held for a while first: with one peer, a peer merely suspected reads as a network
        // down, for well under a second. Links without carrier are held only past a bounce.
        let since = networksLostSince ?? report.at
        networksLostSince = since
        let hold = HostJudgement.networkLossHold(links: [report.networks[.migration]?.link, report.networks[.vm]?.link])
        guard report.at.timeIntervalSince(since) >= hold else { return }
        guard !reportedNetworkLoss, reportsOutsideFaults, let faultReporter else { return }
        let affected = vms.filter { $0.value.registration.status.occupiesHost }.keys.sorted()
        guard !affected.isEmpty else { return }
        reportedNetworkLoss = true
        let began = [report.networks[.migration]?.since, report.networks[.vm]?.since].compactMap { $0 }.max()
        let evidence = ["\(settings.host): migration and VM networks down (no link or no peer answers on either)"]
        logger.error("migration and VM networks lost", metadata: ["vms": "\(affected.joined(separator: ","))"])
        do {
            let reply = try await faultReporter(FaultReport(host: settings.host, fault: .migrationAndVM, vms: affected, evidence: evidence,
                                                            faultAt: began))
            logger.notice("failover asked", metadata: ["started": "\(reply.started)", "joined": "\(reply.joined)"])
        } catch {
            reportedNetworkLoss = false   // asked again next round
            logger.error("could not report the lost migration and VM networks to the controller: \(error)")
        }
    }
}
