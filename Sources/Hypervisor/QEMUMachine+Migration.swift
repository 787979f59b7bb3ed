import Foundation
import NIOConcurrencyHelpers
import TetherModel

extension QEMUMachine {
    /// Readies this VM (started with `incoming`) to receive a migration at `uri`; with `tls`,
    /// only over TLS, from a source whose certificate the same CA signed and, with
    /// `sourceName`, whose certificate's subject is `CN=sourceName` (as `tether certs issue
    /// --name` writes it): any other host of the cluster is turned away.
    public func prepareIncoming(uri: String, tls: MigrationTLS?, sourceName: String?) async throws {
        if tls == nil, sourceName != nil {
            throw TetherError(.invalidArgument, "\(name) can check its migration's source by name only over TLS")
        }
        try await configureMigrationTLS(tls, endpoint: "server", peerName: sourceName)
        try await qmp.execute("migrate-incoming", ["uri": .string(uri)])
    }

    /// Live-migrates to `target` (started with `incoming`): readies the target, sets the limits,
    /// starts, and follows `query-migrate` until the end. The source ends `postmigrate`, the
    /// target `running`. On failure the source keeps running, and the error says why. With
    /// `options.tls` both ends use the same credentials: for two VMs on one host.
    public func migrate(to target: any VirtualMachineControl, uri: String, options: MigrationOptions,
                        progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        let start = ContinuousClock.now
        // Two QEMUs, no order between readying one and setting the other's limits: at once.
        async let readied: Void = target.prepareIncoming(uri: uri, tls: options.tls, sourceName: nil)
        let outgoing = try await prepareOutgoing(options)
        defer { outgoing.watch.cancel() }
        try await readied
        let result = try await startOutgoing(outgoing, uri: uri, options: options, start: start, progress: progress)
        // The target switches to running as the stream ends; wait for it, briefly.
        if let machine = target as? QEMUMachine { try await machine.waitForStatus(.running, timeout: .seconds(10)) }
        return result
    }

    /// The source's half of a live migration, for a target that another process readied (an
    /// agent on the device's host): sets the limits, starts, follows to the end. With
    /// `options.tls`, the target must have been readied with TLS too, and its certificate must
    /// carry `options.targetName`; a refused handshake is a `.permissionDenied` error.
    public func migrateOut(uri: String, options: MigrationOptions,
                           progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        let start = ContinuousClock.now
        let outgoing = try await prepareOutgoing(options)
        defer { outgoing.watch.cancel() }
        return try await startOutgoing(outgoing, uri: uri, options: options, start: start, progress: progress)
    }

    /// A source readied to migrate: its ending event watched.
    struct OutgoingMigration {
        let watch: MigrationWatch
    }

    /// Sets the source's credentials and limits, and turns on its MIGRATION events (unless they
    /// are known on since its start). The last two do not depend on each other, so they are in
    /// flight together: QEMU answers a connection's commands in order, and two round trips
    /// become one. QEMU still takes most of a millisecond for each command here, which is why
    /// the source's run state is not asked beforehand (see `startOutgoing`).
    func prepareOutgoing(_ options: MigrationOptions) async throws -> OutgoingMigration {
        if options.tls != nil && (options.targetName ?? "").isEmpty {
            throw TetherError(.invalidArgument, "a migration of \(name) over TLS needs the name the target's certificate carries")
        }
        try await configureMigrationTLS(options.tls, endpoint: "client", peerName: options.targetName)
        var parameters: [String: JSONValue] = [:]
        if let limit = options.downtimeLimitMs { parameters["downtime-limit"] = .int(Int64(limit)) }
        if let bandwidth = options.maxBandwidthBytesPerSecond { parameters["max-bandwidth"] = .int(Int64(bandwidth)) }
        let watch = MigrationWatch(qmp)
        do {
            async let limits: Void = parameters.isEmpty ? () : { _ = try await qmp.execute("migrate-set-parameters", .object(parameters)) }()
            async let events: Void = { if !migrationEventsKnownOn.withLockedValue({ $0 }) { try await enableMigrationEvents() } }()
            try await limits
            try await events
            return OutgoingMigration(watch: watch)
        } catch {
            watch.cancel()
            throw error
        }
    }

    /// Starts a readied migration and follows it to the end.
    func startOutgoing(_ outgoing: OutgoingMigration, uri: String, options: MigrationOptions, start: ContinuousClock.Instant,
                       progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        try await qmp.execute("migrate", ["uri": .string(uri)])
        do {
            return try await follow(start: start, timeout: options.timeout, watch: outgoing.watch, progress: progress)
        } catch {
            // QEMU 7.2 reports a failure a moment before it puts the source back as it was (a
            // migration that failed at the switch-over): the caller is promised that source.
            await waitWhileSwitchingOver(within: .seconds(5))
            throw await tlsRefusal(error, options: options) ?? error
        }
    }

    /// Waits while the source is in `finish-migrate`, the switch-over's state. A migration that
    /// fails there leaves it when QEMU puts the source back: `running` for a source that ran
    /// (QEMU restarts its CPUs), `postmigrate` for one that was paused. QEMU knows which it was,
    /// so the driver need not ask the run state before each migration: one command less (most
    /// of a millisecond) on every migration's path, for a wait only a failure takes. A failure
    /// before the switch-over never left the source's state.
    func waitWhileSwitchingOver(within limit: Duration) async {
        _ = await settledState(leaving: .finishMigrate, within: limit, askingWithin: .seconds(1))
    }

    /// A failed TLS migration's error, as `.permissionDenied` when the handshake was refused.
    private func tlsRefusal(_ error: any Error, options: MigrationOptions) async -> TetherError? {
        guard options.tls != nil, let error = error as? TetherError, error.code == .io else { return nil }
        // A target that refuses the source hangs up mid-handshake, and the source's QEMU then
        // says "Cannot write to TLS channel", or nothing at all.
        let reason = try? await qmp.execute("query-migrate")["error-desc"]?.string
        guard reason.map(Self.isTLSRefusal) ?? true else { return nil }
        let target = options.targetName ?? "?"
        return TetherError(.permissionDenied, "the TLS handshake for migrating \(name) to \(target) failed, "
                           + "so the target did not take it: both ends need a certificate from the cluster CA, "
                           + "the target's must carry the name \(target), and the target may accept only the source it was told of",
                           cause: error.message)
    }

    /// QEMU's reasons for a failed handshake: "The certificate is not trusted", "The certificate
    /// hasn't got a known issuer", "Certificate does not match the hostname NAME" (the source
    /// refused the target), or "Cannot write to TLS channel" (the target refused the source, for
    /// its CA or its name, and hung up; only the target's log says why, e.g. "TLS x509 authz
    /// check for CN=host-a is denied").
    static func isTLSRefusal(_ reason: String) -> Bool {
        reason.localizedCaseInsensitiveContains("certificate") || reason.contains("TLS")
    }

    static let tlsObjectID = "tether-migration-tls"
    static let authzObjectID = "tether-migration-source"

    /// Gives this VM's migrations TLS credentials (`tls-creds-x509`, `endpoint` server on a
    /// target, client on a source), or takes them away: QEMU keeps migration parameters from one
    /// migration to the next. Credentials cannot be changed in place, so the objects are
    /// replaced. `peerName` is the name the other end's certificate must carry: on a source
    /// QEMU's `tls-hostname` (checked against the target's subject alternative names), on a
    /// target an `authz-simple` identity (checked against the source's distinguished name).
    func configureMigrationTLS(_ tls: MigrationTLS?, endpoint: String, peerName: String?) async throws {
        if tls == nil {
            if migrationTLSKnownClear.withLockedValue({ $0 }) { return }
            let current = try await qmp.execute("query-migrate-parameters")["tls-creds"]?.string ?? ""
            guard !current.isEmpty else {
                migrationTLSKnownClear.withLockedValue { $0 = true }
                return
            }
        }
        migrationTLSKnownClear.withLockedValue { $0 = false }
        try await qmp.execute("migrate-set-parameters", ["tls-creds": "", "tls-hostname": "", "tls-authz": ""])
        for id in [Self.tlsObjectID, Self.authzObjectID] {
            do {
                try await qmp.execute("object-del", ["id": .string(id)])
            } catch QMPError.refused {
                // There was none.
            }
        }
        guard let tls else {
            migrationTLSKnownClear.withLockedValue { $0 = true }
            return
        }
        // Beside the QMP socket: a directory that is this VM's own, for a launched or adopted VM alike.
        let directory = qmp.socketPath + ".migration-tls"
        try tls.layOut(in: directory)
        try await qmp.execute("object-add", ["qom-type": "tls-creds-x509", "id": .string(Self.tlsObjectID), "endpoint": .string(endpoint),
                                             "dir": .string(directory), "verify-peer": true])
        var parameters: [String: JSONValue] = ["tls-creds": .string(Self.tlsObjectID)]
        switch (endpoint, peerName) {
        case ("server", let source?):
            try await qmp.execute("object-add", ["qom-type": "authz-simple", "id": .string(Self.authzObjectID),
                                                 "identity": .string("CN=\(source)")])
            parameters["tls-authz"] = .string(Self.authzObjectID)
        case (_, let target?):
            parameters["tls-hostname"] = .string(target)
        case (_, nil):
            break
        }
        // Again: a call without TLS on this VM meanwhile may have marked it clear.
        migrationTLSKnownClear.withLockedValue { $0 = false }
        try await qmp.execute("migrate-set-parameters", .object(parameters))
    }

    public func cancelMigration() async throws {
        try await qmp.execute("migrate_cancel")
    }

    /// Turns on QEMU's MIGRATION events and listens for the one that ends the migration, so
    /// that the end is seen within milliseconds rather than at the next poll.
    func watchMigration() async throws -> MigrationWatch {
        let watch = MigrationWatch(qmp)
        do {
            try await enableMigrationEvents()
        } catch {
            watch.cancel()
            throw error
        }
        return watch
    }

    func enableMigrationEvents() async throws {
        try await qmp.execute("migrate-set-capabilities", ["capabilities": .array([["capability": "events", "state": true]])])
    }

    /// Follows a migration to its end: wakes on its ending event, asks query-migrate for
    /// progress every 100 ms meanwhile, and cancels the migration at the deadline.
    public func follow(start: ContinuousClock.Instant, timeout: Duration, watch: MigrationWatch? = nil,
                       progress: @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        let deadline = start + timeout
        // Just started: nothing to report yet, and QEMU answers slowly while its migration
        // thread starts. The first question waits for the ending event or the first report's time.
        if let watch { await watch.waitForEnd(upTo: .milliseconds(100)) }
        while true {
            let info = try await qmp.execute("query-migrate")
            let status = info["status"]?.string ?? "none"
            let ram = info["ram"]
            let seen = MigrationProgress(status: MigrationStatus(status), transferredBytes: ram?["transferred"]?.int ?? 0,
                                         remainingBytes: ram?["remaining"]?.int ?? 0, totalBytes: ram?["total"]?.int ?? 0,
                                         megabitsPerSecond: ram?["mbps"]?.double ?? 0)
            switch status {
            case "completed" where (info["total-time"]?.int ?? 0) == 0:
                // QEMU 7.2 says "completed" (and sends the event) a moment before it computes
                // total-time and downtime: ask again shortly rather than report zeros.
                try await Task.sleep(for: .milliseconds(1))
                continue
            case "completed":
                progress(seen)
                let elapsed = ContinuousClock.now - start
                return MigrationResult(status: .completed, totalTimeMs: info["total-time"]?.int ?? 0, downtimeMs: info["downtime"]?.int ?? 0,
                                       transferredBytes: seen.transferredBytes,
                                       driverTotalMs: elapsed.timeInterval * 1000)
            case "failed", "cancelled":
                let reason = info["error-desc"]?.string ?? status
                throw TetherError(.io, "migration of \(name) \(status): \(reason)")
            case "none":
                throw TetherError(.internalError, "no migration of \(name) is under way")
            default:
                progress(seen)
                guard ContinuousClock.now < deadline else {
                    try? await cancelMigration()
                    throw TetherError(.timeout, "migration of \(name) did not finish within \(timeout); it was cancelled")
                }
                // Until the next progress report, or the ending event, whichever comes first.
                if let watch {
                    await watch.waitForEnd(upTo: .milliseconds(100))
                } else {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }
    }

    /// Suspends the VM and writes its whole state to `path`: the "suspend, store state" of the
    /// storage-loss flow. The VM stays paused; a VM started with `incoming` restores it.
    public func saveState(to path: String) async throws -> MigrationResult {
        let start = ContinuousClock.now
        try await pause()
        try await configureMigrationTLS(nil, endpoint: "client", peerName: nil)
        let watch = try await watchMigration()
        defer { watch.cancel() }
        try await qmp.execute("migrate", ["uri": .string("exec:cat > \(Self.shellQuoted(path))")])
        return try await follow(start: start, timeout: .seconds(600), watch: watch) { _ in }
    }

    /// Loads a saved state into this VM (started with `incoming`) and runs it.
    public func restoreState(from path: String) async throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw TetherError(.notFound, "no saved state at \(path)")
        }
        try await prepareIncoming(uri: "exec:cat \(Self.shellQuoted(path))")
        let deadline = ContinuousClock.now + .seconds(600)
        var state = try await status()
        while state == .inmigrate {
            guard ContinuousClock.now < deadline else { throw TetherError(.timeout, "restoring \(name) from \(path) did not finish") }
            try await Task.sleep(for: .milliseconds(20))
            state = try await status()
        }
        let incoming = try await qmp.execute("query-migrate")
        if let status = incoming["status"]?.string, status == "failed" {
            throw TetherError(.io, "restoring \(name) from \(path) failed: \(incoming["error-desc"]?.string ?? "no reason given")")
        }
        if state != .running { try await resume() }
        try await waitForStatus(.running, timeout: .seconds(10))
    }

    /// For `exec:` URIs, which QEMU runs through /bin/sh.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Wakes the migration's follower the moment QEMU's MIGRATION event says it ended
/// (completed, failed, cancelled): the handler runs on the QMP connection's thread and resumes
/// the waiter directly, one thread hop, so the driver adds little to QEMU's own time.
public final class MigrationWatch: Sendable {
    private struct State {
        var ended = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = NIOLockedValueBox(State())
    private let qmp: QMPClient
    private let handler: NIOLockedValueBox<UUID?> = NIOLockedValueBox(nil)

    init(_ qmp: QMPClient) {
        self.qmp = qmp
        let state = self.state
        let id = qmp.addEventHandler { event in
            guard event.name == "MIGRATION", ["completed", "failed", "cancelled"].contains(event.data["status"]?.string ?? "") else { return }
            let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
                s.ended = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
        handler.withLockedValue { $0 = id }
    }

    /// Returns when the migration has ended, or after `duration`, whichever is first.
    func waitForEnd(upTo duration: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if s.ended { return true }
                s.waiter = continuation
                return false
            }
            if now {
                continuation.resume()
                return
            }
            let state = self.state
            Task {
                try? await Task.sleep(for: duration)
                let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
                    guard let w = s.waiter else { return nil }
                    s.waiter = nil
                    return w
                }
                waiter?.resume()
            }
        }
    }

    func cancel() {
        if let id = handler.withLockedValue({ $0 }) { qmp.removeEventHandler(id) }
    }
}
