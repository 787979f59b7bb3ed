import Foundation
import NIOConcurrencyHelpers
import TetherModel

extension QEMUMachine {
    /// Readies this VM (started with `incoming`) to receive a migration at `uri`; with `tls`,
    /// only over TLS, from a source whose certificate the same CA signed.
    public func prepareIncoming(uri: String, tls: MigrationTLS?) async throws {
        try await configureMigrationTLS(tls, endpoint: "server", targetName: nil)
        try await qmp.execute("migrate-incoming", ["uri": .string(uri)])
    }

    /// Live-migrates to `target` (started with `incoming`): readies the target, sets the limits,
    /// starts, and follows `query-migrate` until the end. The source ends `postmigrate`, the
    /// target `running`. On failure the source keeps running, and the error says why. With
    /// `options.tls` both ends use the same credentials: for two VMs on one host.
    public func migrate(to target: any VirtualMachineControl, uri: String, options: MigrationOptions,
                        progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        let start = ContinuousClock.now
        try await target.prepareIncoming(uri: uri, tls: options.tls)
        let result = try await migrateOut(uri: uri, options: options, start: start, progress: progress)
        // The target switches to running as the stream ends; wait for it, briefly.
        if let machine = target as? QEMUMachine { try await machine.waitForStatus(.running, timeout: .seconds(10)) }
        return result
    }

    /// The source's half of a live migration, for a target that another process readied (an
    /// agent on the device's host): sets the limits, starts, follows to the end. With
    /// `options.tls`, the target must have been readied with TLS too, and its certificate must
    /// carry `options.targetName`; a refused handshake is a `.permissionDenied` error.
    public func migrateOut(uri: String, options: MigrationOptions, start: ContinuousClock.Instant = .now,
                           progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        if options.tls != nil && (options.targetName ?? "").isEmpty {
            throw TetherError(.invalidArgument, "a migration of \(name) over TLS needs the name the target's certificate carries")
        }
        try await configureMigrationTLS(options.tls, endpoint: "client", targetName: options.targetName)
        var parameters: [String: JSONValue] = [:]
        if let limit = options.downtimeLimitMs { parameters["downtime-limit"] = .int(Int64(limit)) }
        if let bandwidth = options.maxBandwidthBytesPerSecond { parameters["max-bandwidth"] = .int(Int64(bandwidth)) }
        if !parameters.isEmpty { try await qmp.execute("migrate-set-parameters", .object(parameters)) }
        let watch = try await watchMigration()
        defer { watch.cancel() }
        try await qmp.execute("migrate", ["uri": .string(uri)])
        do {
            return try await follow(start: start, timeout: options.timeout, watch: watch, progress: progress)
        } catch let error as TetherError where options.tls != nil && error.code == .io && Self.isTLSRefusal(error.message) {
            let target = options.targetName ?? "?"
            throw TetherError(.permissionDenied, "the TLS handshake for migrating \(name) to \(target) failed, so no state was sent: "
                              + "both ends need a certificate from the cluster CA, and the target's must carry the name \(target)",
                              cause: error.message)
        }
    }

    /// QEMU's reasons for a failed handshake: "The certificate hasn't got a known issuer",
    /// "Certificate does not match the hostname NAME" (the source refused the target), or "Cannot
    /// read from / write to TLS channel" (the target refused the source and hung up).
    static func isTLSRefusal(_ reason: String) -> Bool {
        reason.localizedCaseInsensitiveContains("certificate") || reason.contains("TLS")
    }

    static let tlsObjectID = "tether-migration-tls"

    /// Gives this VM's migrations TLS credentials (`tls-creds-x509`, `endpoint` server on a
    /// target, client on a source), or takes them away: QEMU keeps migration parameters from one
    /// migration to the next. Credentials cannot be changed in place, so the object is replaced.
    func configureMigrationTLS(_ tls: MigrationTLS?, endpoint: String, targetName: String?) async throws {
        if tls == nil {
            let current = try await qmp.execute("query-migrate-parameters")["tls-creds"]?.string ?? ""
            guard !current.isEmpty else { return }
        }
        try await qmp.execute("migrate-set-parameters", ["tls-creds": "", "tls-hostname": ""])
        do {
            try await qmp.execute("object-del", ["id": .string(Self.tlsObjectID)])
        } catch QMPError.refused {
            // There was none.
        }
        guard let tls else { return }
        // Beside the QMP socket: a directory that is this VM's own, for a launched or adopted VM alike.
        let directory = qmp.socketPath + ".migration-tls"
        try tls.layOut(in: directory)
        try await qmp.execute("object-add", ["qom-type": "tls-creds-x509", "id": .string(Self.tlsObjectID), "endpoint": .string(endpoint),
                                             "dir": .string(directory), "verify-peer": true])
        var parameters: [String: JSONValue] = ["tls-creds": .string(Self.tlsObjectID)]
        if let targetName { parameters["tls-hostname"] = .string(targetName) }
        try await qmp.execute("migrate-set-parameters", .object(parameters))
    }

    public func cancelMigration() async throws {
        try await qmp.execute("migrate_cancel")
    }

    /// Turns on QEMU's MIGRATION events and listens for the one that ends the migration, so
    /// that the end is seen within milliseconds rather than at the next poll.
    func watchMigration() async throws -> MigrationWatch {
        let watch = MigrationWatch(qmp)
        try await qmp.execute("migrate-set-capabilities", ["capabilities": .array([["capability": "events", "state": true]])])
        return watch
    }

    /// Follows a migration to its end: wakes on its ending event, asks query-migrate for
    /// progress every 100 ms meanwhile, and cancels the migration at the deadline.
    public func follow(start: ContinuousClock.Instant, timeout: Duration, watch: MigrationWatch? = nil,
                       progress: @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        let deadline = start + timeout
        while true {
            let info = try await qmp.execute("query-migrate")
            let status = info["status"]?.string ?? "none"
            let ram = info["ram"]
            let seen = MigrationProgress(status: status, transferredBytes: ram?["transferred"]?.int ?? 0,
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
                return MigrationResult(status: status, totalTimeMs: info["total-time"]?.int ?? 0, downtimeMs: info["downtime"]?.int ?? 0,
                                       transferredBytes: seen.transferredBytes,
                                       driverTotalMs: Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
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
        try await configureMigrationTLS(nil, endpoint: "client", targetName: nil)
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
