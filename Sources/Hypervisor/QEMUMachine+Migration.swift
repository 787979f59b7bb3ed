import Foundation
import TetherModel

extension QEMUMachine {
    public func prepareIncoming(uri: String) async throws {
        try await qmp.execute("migrate-incoming", ["uri": .string(uri)])
    }

    /// Live-migrates to `target` (started with `incoming`): readies the target, sets the limits,
    /// starts, and follows `query-migrate` until the end. The source ends `postmigrate`, the
    /// target `running`. On failure the source keeps running, and the error says why.
    public func migrate(to target: any VirtualMachineControl, uri: String, options: MigrationOptions,
                        progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult {
        let start = ContinuousClock.now
        try await target.prepareIncoming(uri: uri)
        var parameters: [String: JSONValue] = [:]
        if let limit = options.downtimeLimitMs { parameters["downtime-limit"] = .int(Int64(limit)) }
        if let bandwidth = options.maxBandwidthBytesPerSecond { parameters["max-bandwidth"] = .int(Int64(bandwidth)) }
        if !parameters.isEmpty { try await qmp.execute("migrate-set-parameters", .object(parameters)) }
        try await qmp.execute("migrate", ["uri": .string(uri)])
        let result = try await follow(start: start, timeout: options.timeout, progress: progress)
        // The target switches to running as the stream ends; wait for it, briefly.
        if let machine = target as? QEMUMachine { try await machine.waitForStatus(.running, timeout: .seconds(10)) }
        return result
    }

    public func cancelMigration() async throws {
        try await qmp.execute("migrate_cancel")
    }

    /// Polls query-migrate until the migration ends; cancels it at the deadline.
    public func follow(start: ContinuousClock.Instant, timeout: Duration,
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
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Suspends the VM and writes its whole state to `path`: the "suspend, store state" of the
    /// storage-loss flow. The VM stays paused; a VM started with `incoming` restores it.
    public func saveState(to path: String) async throws -> MigrationResult {
        let start = ContinuousClock.now
        try await pause()
        try await qmp.execute("migrate", ["uri": .string("exec:cat > \(Self.shellQuoted(path))")])
        return try await follow(start: start, timeout: .seconds(600)) { _ in }
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
