import Foundation
import TetherClient
import TetherModel

/// The hosts an operation acts on, simulated: where each VM is and in what state, what is
/// exported, which channels are open, and every call made. It checks the invariant that matters
/// most after every call: a VM runs on at most one host. A call can be made to fail, or to hang
/// forever before or after its effect (a controller that died there).
actor SimulatedHosts {
    enum Hang: Equatable { case before, after }

    var vms: [String: [String: VMRunState]] = [:]      // host -> vm -> status
    var exports: [String: Set<String>] = [:]           // host -> sessions
    var channels: [String: Set<String>] = [:]          // host -> sessions
    var exportAllows: [String: [String]] = [:]          // session -> the hosts its export serves
    var calls: [String] = []
    var runningTwice: [String] = []
    private var failures: [String: [TetherError]] = [:]
    private var hang: (call: String, when: Hang)?
    private var migrations: [String: (source: String, target: String, polls: Int, live: Bool)] = [:]

    init(vms: [String: [String: VMRunState]]) { self.vms = vms }

    /// How many questions a migration's target still answers `inmigrate` after its source
    /// reported the migration done: a loaded target takes a moment to load the last state.
    var targetLoadingPolls = 0
    private var loading: [String: (remaining: Int, then: VMRunState)] = [:]   // "host/vm"
    func setTargetLoadingPolls(_ polls: Int) { targetLoadingPolls = polls }

    /// Hosts cut off (dead, or isolated): every call to their agents fails as unreachable.
    var unreachable: Set<String> = []

    func fail(_ call: String, with errors: [TetherError]) { failures[call] = errors }
    func clearFailures() { failures = [:] }
    func clearCalls() { calls = [] }
    func setReachable(_ host: String, _ reachable: Bool) {
        if reachable { unreachable.remove(host) } else { unreachable.insert(host) }
    }
    func hang(at call: String, _ when: Hang) { hang = (call, when) }
    func clearHang() { hang = nil }
    /// A call held (not hung for good) until `release`: a step that takes as long as a test says.
    private var held: String?
    func hold(_ call: String) { held = call }
    func release() { held = nil }

    /// Runs one call: records it, hangs or fails it as told, applies its effect.
    func perform<T: Sendable>(_ call: String, _ effect: () throws(TetherError) -> T) async throws(TetherError) -> T {
        calls.append(call)
        while held == call { try? await Task.sleep(for: .milliseconds(5)) }
        if let host = call.split(separator: ":").last, unreachable.contains(String(host)) {
            throw TetherError(.io, "\(host) does not answer")
        }
        if var queued = failures[call], !queued.isEmpty {
            let error = queued.removeFirst()
            failures[call] = queued
            throw error
        }
        if let hang, hang.call == call, hang.when == .before {
            self.hang = nil
            await Self.forever()
        }
        let result = try effect()
        checkInvariant()
        if let hang, hang.call == call, hang.when == .after {
            self.hang = nil
            await Self.forever()
        }
        return result
    }

    private static func forever() async {
        while true { try? await Task.sleep(for: .seconds(3600)) }
    }

    private func checkInvariant() {
        var running: [String: Int] = [:]
        for (_, vms) in vms { for (vm, status) in vms where status == .running { running[vm, default: 0] += 1 } }
        for (vm, count) in running where count > 1 { runningTwice.append("\(vm) after \(calls.last ?? "?")") }
    }

    func hosts(running vm: String) -> [String] {
        vms.filter { $0.value[vm] == .running }.map(\.key).sorted()
    }

    // MARK: effects

    func state(_ host: String, _ vm: String) -> AgentVMState? {
        if let load = loading["\(host)/\(vm)"] {
            if load.remaining == 0 {
                loading["\(host)/\(vm)"] = nil
                vms[host]?[vm] = load.then
                checkInvariant()
            } else {
                loading["\(host)/\(vm)"] = (load.remaining - 1, load.then)
            }
        }
        guard let status = vms[host]?[vm] else { return nil }
        var migration: MigrationReport?
        if let m = migrations[vm], m.source == host, vms[m.target]?[vm] == nil, m.polls < 2 {
            // Its target was quit before the state arrived: the migration failed, the source runs on.
            migrations[vm] = nil
            return AgentVMState(name: vm, status: status, launch: VMLaunch(name: vm, memoryMiB: 128, cpus: 1),
                                migration: MigrationReport(status: .failed, transferredBytes: 0, totalBytes: 128 << 20), redirections: [])
        }
        if var m = migrations[vm], m.source == host, status != .inmigrate, vms[host]?[vm] != nil {
            m.polls += 1
            migrations[vm] = m
            if m.polls == 2 {
                vms[host]?[vm] = .postmigrate
                // A paused source (its disk taken off dead storage) arrives paused.
                if targetLoadingPolls > 0 {
                    loading["\(m.target)/\(vm)"] = (targetLoadingPolls, m.live ? .running : .paused)
                } else {
                    vms[m.target]?[vm] = m.live ? .running : .paused
                }
                checkInvariant()
            }
            if m.polls >= 2 {
                migration = MigrationReport(status: .completed, transferredBytes: 128 << 20, totalBytes: 128 << 20, downtimeMs: 12)
            } else {
                migration = MigrationReport(status: .active, transferredBytes: 64 << 20, totalBytes: 128 << 20)
            }
        }
        var state = AgentVMState(name: vm, status: vms[host]?[vm] ?? status, launch: VMLaunch(name: vm, memoryMiB: 128, cpus: 1),
                                 migration: migration, redirections: [])
        state.channels = (channels[host] ?? []).filter { $0.hasPrefix("\(vm)/") }.sorted().compactMap { session in
            DeviceAttachment.device(ofSession: session).map { ChannelEndState(session: session, from: HostPort(host: $0.host, port: 5555), deviceHost: $0.host) }
        }
        return state
    }

    /// What each move asked: where the target listened, and the evacuations with their caps.
    var incomingRequests: [IncomingRequest] = []
    var evacuations: [EvacuateRequest] = []

    func incoming(_ host: String, _ request: IncomingRequest) throws(TetherError) -> HostPort {
        incomingRequests.append(request)
        return try incoming(host, request.launch.name)
    }

    func incoming(_ host: String, _ vm: String) throws(TetherError) -> HostPort {
        if let status = vms[host]?[vm], status != .inmigrate, status != .postmigrate { throw TetherError(.busy, "\(host) already runs \(vm)") }
        vms[host, default: [:]][vm] = .inmigrate
        return HostPort(host: host, port: 4444)
    }

    func migrate(_ host: String, _ vm: String, to target: HostPort) throws(TetherError) {
        guard let status = vms[host]?[vm], [.running, .paused].contains(status) else { throw TetherError(.notFound, "\(host) does not run \(vm)") }
        guard vms[target.host]?[vm] == .inmigrate else { throw TetherError(.io, "nobody waits at \(target)") }
        // Asked again, the migration under way; a new one replaces one that ended.
        if let m = migrations[vm], m.source == host, m.target == target.host, m.polls < 2 { return }
        migrations[vm] = (host, target.host, 0, status == .running)
    }

    /// A failover's move: with `leaveStorage`, the VM is paused first (its disk off the datastore).
    func evacuate(_ host: String, _ request: EvacuateRequest) throws(TetherError) {
        if let m = migrations[request.vm], m.source == host, m.target == request.to.host, m.polls < 2 { return }
        evacuations.append(request)
        if request.leaveStorage, let status = vms[host]?[request.vm], [.running, .ioError].contains(status) {
            vms[host]?[request.vm] = .paused
        }
        try migrate(host, request.vm, to: request.to)
    }

    /// A dead host's VM started from its disk on `host`; asked again, the same copy.
    func startFromDisk(_ host: String, _ vm: String) async throws(TetherError) -> VMRunState {
        try await perform("startFromDisk:\(host)") { () throws(TetherError) -> VMRunState in
            if let status = vms[host]?[vm], status != .postmigrate {
                guard status != .inmigrate else { throw TetherError(.busy, "\(host) waits for \(vm)'s state") }
                return status
            }
            vms[host, default: [:]][vm] = .running
            return .running
        }
    }

    func resume(_ host: String, _ vm: String) throws(TetherError) -> VMRunState {
        guard let status = vms[host]?[vm] else { throw TetherError(.notFound, "\(host) does not run \(vm)") }
        guard status != .postmigrate else { throw TetherError(.io, "\(vm)'s state left \(host); it cannot be resumed there") }
        if status == .paused || status == .ioError { vms[host]?[vm] = .running }
        return vms[host]?[vm] ?? status
    }

    func release(_ host: String, _ vm: String) throws(TetherError) {
        guard let status = vms[host]?[vm] else { return }
        guard status == .postmigrate else { throw TetherError(.busy, "\(vm) is \(status) on \(host)") }
        vms[host]?[vm] = nil
        migrations[vm] = nil
    }

    func abandon(_ host: String, _ vm: String) throws(TetherError) {
        guard let status = vms[host]?[vm] else { return }
        guard status == .inmigrate else { throw TetherError(.busy, "\(vm) is \(status) on \(host)") }
        vms[host]?[vm] = nil
        if migrations[vm]?.target == host { migrations[vm] = nil }
    }

    // MARK: what a host's agent does on its own (the failover simulation)

    /// Isolated: every copy on the host is fenced, and the ones that ran are paused; answers
    /// each fenced copy with whether it ran.
    func fence(_ host: String) -> [String: Bool] {
        var fenced: [String: Bool] = [:]
        for (vm, status) in vms[host] ?? [:] where status.occupiesHost {
            let ran = [.running, .ioError].contains(status)
            if ran { vms[host]?[vm] = .paused }
            fenced[vm] = ran
        }
        return fenced
    }

    /// Back in touch: each fenced copy is quit where the cluster view shows the VM elsewhere,
    /// else the ones that ran are resumed.
    func releaseFenced(_ host: String, _ fenced: [String: Bool], elsewhere: [String: String]) {
        for (vm, ran) in fenced where vms[host]?[vm] != nil {
            if let other = elsewhere[vm], other != host {
                vms[host]?[vm] = nil
            } else if ran, vms[host]?[vm] == .paused {
                vms[host]?[vm] = .running
            }
        }
        calls.append("releaseFenced:\(host)")
        checkInvariant()
    }
}

/// One host's agent, as the controller sees it, backed by the simulation.
struct SimulatedAgent: HostAgent {
    let host: String
    let world: SimulatedHosts

    func registration() async throws(TetherError) -> AgentRegistration {
        AgentRegistration(host: host, agentAddress: HostPort(host: host, port: 7401), cpus: 4, memoryMiB: 4096, networks: [:],
                          datastores: [], devices: [], vms: [])
    }

    func vm(_ name: String) async throws(TetherError) -> AgentVMState? {
        try await world.perform("vm:\(host)") { () throws(TetherError) in () }
        return await world.state(host, name)
    }

    func prepareIncoming(_ request: IncomingRequest) async throws(TetherError) -> HostPort {
        try await world.perform("prepareIncoming:\(host)") { () throws(TetherError) in () }
        return try await world.incoming(host, request)
    }

    func startMigration(vm: String, to target: HostPort, target targetHost: String) async throws(TetherError) {
        try await world.perform("startMigration:\(host)") { () throws(TetherError) in () }
        try await world.migrate(host, vm, to: target)
    }

    func evacuate(_ request: EvacuateRequest) async throws(TetherError) {
        try await world.perform("evacuate:\(host)") { () throws(TetherError) in () }
        try await world.evacuate(host, request)
    }

    func resume(vm: String) async throws(TetherError) -> VMRunState {
        try await world.perform("resume:\(host)") { () throws(TetherError) in () }
        return try await world.resume(host, vm)
    }

    func collectCrash(vm: String) async throws(TetherError) -> CrashCollection {
        try await world.perform("collectCrash:\(host)") { () throws(TetherError) in () }
        guard await world.vms[host]?[vm] != nil else { throw TetherError(.notFound, "\(host) does not run \(vm)") }
        return CrashCollection(vm: vm, host: host, directory: "/crash/\(vm)", files: ["crash-region.bin"], crashSectors: 64, guestWrote: true,
                               memoryDumped: false, settledAfterSeconds: 0.6, at: Date(timeIntervalSince1970: 0))
    }

    func restart(vm: String) async throws(TetherError) -> VMRunState {
        try await world.perform("restart:\(host)") { () throws(TetherError) in () }
        return try await world.resume(host, vm)
    }

    func startFromDisk(_ vm: RegisteredVM) async throws(TetherError) -> VMRunState {
        try await world.startFromDisk(host, vm.name)
    }

    func release(vm: String, movedTo target: String?) async throws(TetherError) {
        try await world.perform("release:\(host)") { () throws(TetherError) in () }
        try await world.release(host, vm)
    }

    func abandonIncoming(vm: String) async throws(TetherError) {
        try await world.perform("abandon:\(host)") { () throws(TetherError) in () }
        try await world.abandon(host, vm)
    }

    func export(_ request: ExportRequest) async throws(TetherError) -> HostPort {
        let host = self.host
        try await world.perform("export:\(host)") { () throws(TetherError) in () }
        await world.add(export: request.session, on: host, allow: request.allow)
        return HostPort(host: request.local ? "127.0.0.1" : host, port: 5555)
    }

    func stopExport(session: String) async throws(TetherError) {
        try await world.perform("stopExport:\(host)") { () throws(TetherError) in () }
        await world.remove(export: session, on: host)
    }

    func openChannel(_ request: ChannelRequest) async throws(TetherError) {
        try await world.perform("openChannel:\(host)") { () throws(TetherError) in () }
        try await world.add(channel: request.session, on: host, vm: request.vm)
    }

    func closeChannel(session: String, vm: String?) async throws(TetherError) {
        try await world.perform("closeChannel:\(host)") { () throws(TetherError) in () }
        await world.remove(channel: session, on: host)
    }
}

extension SimulatedHosts {
    func add(export session: String, on host: String, allow: [String]) {
        exports[host, default: []].insert(session)
        exportAllows[session] = allow
    }
    func remove(export session: String, on host: String) { exports[host]?.remove(session) }
    func add(channel session: String, on host: String, vm: String) throws(TetherError) {
        guard vms[host]?[vm] == .running else { throw TetherError(.notFound, "\(host) does not run \(vm)") }
        channels[host, default: []].insert(session)
    }
    func remove(channel session: String, on host: String) { channels[host]?.remove(session) }
}
