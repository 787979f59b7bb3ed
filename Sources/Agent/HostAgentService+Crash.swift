import Foundation
import Health
import Hypervisor
import TetherModel

/// The crash flow on the host (shared/spec/ha.md): a guest that panics (pvpanic) or whose
/// watchdog fires is reported; its crash files are copied off its disk once it stopped writing
/// them, with QEMU's memory dump where it wrote none; then it starts again from its disk.
extension HostAgentService {
    /// How long the guest's writes must stand still before its crash files count as written,
    /// and the longest the collection waits for that.
    static let crashSettle: Duration = .milliseconds(600)
    static let crashSettleLimit: Duration = .seconds(15)

    /// Follows the VM's panics and watchdog firings for as long as its QEMU answers.
    func watchGuest(_ name: String, _ machine: any VirtualMachineControl) {
        let troubles = machine.guestTroubles()
        Task { [weak self] in
            for await trouble in troubles {
                guard let self else { return }
                await self.guestInTrouble(name, trouble)
            }
        }
    }

    func guestInTrouble(_ name: String, _ trouble: GuestTrouble) async {
        guard let vm = vms[name] else { return }
        guard trouble.kind != .reset else {
            if crashes.removeValue(forKey: name) != nil { logger.notice("the crashed guest started over", metadata: ["vm": "\(name)"]) }
            return
        }
        let writes = try? await vm.machine.writeOperations()
        crashes[name] = CrashSighting(trouble: trouble, writesThen: writes, at: Date())
        let when = Date(timeIntervalSince1970: trouble.timestamp)
        let evidence = ["\(name)'s guest \(trouble.kind == .panicked ? "panicked (pvpanic GUEST_PANICKED)" : "watchdog fired (WATCHDOG)") "
                        + "on \(settings.host) at \(when.formatted(.iso8601)), QEMU's action: \(trouble.action.isEmpty ? "none given" : trouble.action)"]
        logger.error("guest crashed", metadata: ["vm": "\(name)", "kind": "\(trouble.kind.rawValue)", "action": "\(trouble.action)"])
        if let faultReporter {
            do {
                let reply = try await faultReporter(FaultReport(host: settings.host, fault: .crash, vms: [name], evidence: evidence, faultAt: when))
                logger.notice("crash reported", metadata: ["started": "\(reply.started)", "joined": "\(reply.joined)", "notes": "\(reply.notes)"])
                return
            } catch {
                logger.error("could not report the crash to the controller; collecting and restarting here: \(error)")
            }
        }
        do {
            let kept = try await collectCrash(vm: name)
            logger.notice("crash files kept", metadata: ["vm": "\(name)", "where": "\(kept.directory)"])
            _ = try await restart(vm: name)
        } catch {
            logger.error("the crashed guest could not be collected and restarted: \(error)", metadata: ["vm": "\(name)"])
        }
    }

    public func collectCrash(vm name: String) async throws(TetherError) -> CrashCollection {
        guard let vm = vms[name] else { throw TetherError(.notFound, "\(settings.host) does not run \(name)") }
        let started = ContinuousClock.now
        let settled = try await settledWrites(vm.machine)
        let sighting = crashes[name]
        let guestWrote = sighting?.writesThen.map { settled > $0 } ?? true
        let at = Date()
        let directory = "\(settings.crashDirectory)/\(name)-\(Self.folderStamp(at))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TetherError(.io, "cannot make the crash folder \(directory)", cause: "\(error)")
        }
        var files: [String] = []
        var crashSectors = 0
        if let region = vm.launch?.crashRegion {
            let bytes = try readRegion(region, of: vm.launch)
            crashSectors = region.crashSectors(in: bytes).count
            try write(Data(bytes), to: "\(directory)/crash-region.bin")
            files.append("crash-region.bin")
        }
        // A guest that wrote nothing after it signalled left no crash file of this crash: the
        // memory is then all there is to look at.
        let dump = crashSectors == 0 || !guestWrote
        if dump {
            do {
                try await vm.machine.dumpGuestMemory(to: "\(directory)/memory.elf")
                files.append("memory.elf")
            } catch {
                throw TetherError(.io, "QEMU could not dump \(name)'s memory", cause: "\(error)")
            }
        }
        let collection = CrashCollection(vm: name, host: settings.host, directory: directory, files: files, crashSectors: crashSectors,
                                         guestWrote: guestWrote, memoryDumped: dump, settledAfterSeconds: (ContinuousClock.now - started).timeInterval,
                                         at: at)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try write((try? encoder.encode(collection)) ?? Data(), to: "\(directory)/crash.json")
        return collection
    }

    public func restart(vm name: String) async throws(TetherError) -> VMRunState {
        guard let vm = vms[name] else { throw TetherError(.notFound, "\(settings.host) does not run \(name)") }
        do {
            try await vm.machine.reset()
            if try await vm.machine.status() != .running { try await vm.machine.resume() }
            crashes[name] = nil
            let state = try await vm.machine.status()
            logger.notice("restarted the crashed guest", metadata: ["vm": "\(name)", "state": "\(state)"])
            return state
        } catch {
            throw TetherError(.io, "\(name) could not be restarted on \(settings.host)", cause: "\(error)")
        }
    }

    /// The VM's completed writes once they stopped moving for `crashSettle`.
    private func settledWrites(_ machine: any VirtualMachineControl) async throws(TetherError) -> Int64 {
        let deadline = ContinuousClock.now + Self.crashSettleLimit
        var last: Int64 = -1
        var stillSince = ContinuousClock.now
        while true {
            let now: Int64
            do { now = try await machine.writeOperations() } catch { throw TetherError(.io, "QEMU's block statistics cannot be read", cause: "\(error)") }
            if now != last {
                last = now
                stillSince = .now
            } else if ContinuousClock.now - stillSince >= Self.crashSettle {
                return now
            }
            guard ContinuousClock.now < deadline else { return now }   // still writing: take what is there
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The crash region as it is on the disk: over a path of the datastore that is up, or from
    /// the image file.
    private func readRegion(_ region: CrashRegion, of launch: VMLaunch?) throws(TetherError) -> [UInt8] {
        if let shared = launch?.datastoreDisk {
            let paths = settings.datastores.first { $0.name == shared.datastore }?.paths ?? []
            var failures: [String] = []
            for uri in paths.sorted(by: { (pathStates[$0] == .up ? 0 : 1) < (pathStates[$1] == .up ? 0 : 1) }) {
                do {
                    let client = try NBDClient(try NBDEndpoint(uri: uri, export: shared.export))
                    defer { client.disconnect() }
                    return try client.read(at: region.offset, length: UInt32(region.length))
                } catch {
                    failures.append("\(uri): \(error.message)")
                }
            }
            throw TetherError(.io, "the crash region of \(shared.export) could not be read over any path", cause: failures.joined(separator: "; "))
        }
        guard let path = launch?.disk, let handle = FileHandle(forReadingAtPath: path) else {
            throw TetherError(.notFound, "the VM has no disk this host can read its crash region from")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: region.offset)
            return [UInt8](try handle.read(upToCount: region.length) ?? Data())
        } catch {
            throw TetherError(.io, "cannot read the crash region of \(path)", cause: "\(error)")
        }
    }

    private func write(_ data: Data, to path: String) throws(TetherError) {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch { throw TetherError(.io, "cannot write \(path)", cause: "\(error)") }
    }

    static func folderStamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.omitted).time(includingFractionalSeconds: false).timeSeparator(.omitted))
    }
}

/// A guest seen in trouble, until it is restarted.
struct CrashSighting: Sendable {
    var trouble: GuestTrouble
    /// The VM's completed writes when QEMU reported it.
    var writesThen: Int64?
    var at: Date
}
