import Foundation
import TetherModel

/// A network disk's IO path: which one it uses, and moving it to another. The move is a mirror
/// job with `sync: none` from the disk's node onto a new node over the other path, completed at
/// once: QEMU 7.2 has no `blockdev-replace`, and `blockdev-reopen` onto a new child flushes the
/// old one first, which fails when its path is dead (measured: "Error flushing drive").
extension QEMUMachine {
    /// The path the network disk uses now, as QEMU's block layer names it; nil when the VM has no
    /// network disk.
    public func diskPath() async throws -> NBDPath? {
        try await networkDiskNode()?.location.path
    }

    /// Every IO error QEMU reports on this VM's disks from now on, until the QMP connection
    /// closes. Subscribe before the IO that may fail.
    public func diskIOErrors() -> AsyncStream<DiskIOError> {
        qmp.events { DiskIOError($0) }
    }

    /// Moves the network disk to `path`, while the VM runs (a planned switch: it is paused for
    /// the move, about 120 ms) or while it is paused in `io-error` because its path died; a VM
    /// in `io-error` is resumed after, and the request it held is issued again over the new path. The path is probed first (a dead one
    /// would hold QEMU, see `NBDPathProbe`). Each step has a deadline; on a failure before the
    /// new node has the disk, what was added is removed and the disk stays as it was, so the VM
    /// is never without its disk. Switching to the path in use opens a fresh connection on it.
    @discardableResult
    public func switchDiskPath(to path: NBDPath) async throws -> DiskPathSwitch {
        try await switchDiskPath(to: path, probeTimeout: .seconds(2), stepTimeout: .seconds(10))
    }

    /// `switchDiskPath(to:)` with its deadlines: the probe's, and each QMP step's.
    @discardableResult
    public func switchDiskPath(to path: NBDPath, probeTimeout: Duration, stepTimeout: Duration) async throws -> DiskPathSwitch {
        let start = ContinuousClock.now
        guard let current = try await networkDiskNode() else {
            throw TetherError(.notFound, "\(name) has no network disk (device \(NetworkDisk.deviceID)) to switch to \(path)")
        }
        let stateBefore = try await status()
        do {
            try await NBDPathProbe.check(path, networkNamespace: networkNamespace, timeout: probeTimeout)
        } catch {
            throw TetherError(error.code, "\(name)'s disk stays on \(current.location.path): \(error.message)", cause: error.cause)
        }
        let generation = try await nextDiskGeneration()
        let disk = try NetworkDisk(paths: [path], export: current.location.export)
        let names = NetworkDisk.nodeNames(generation: generation)
        // A running VM is paused while its disk moves: the mirror's background copy would race
        // the guest's writes, and its source and target are the same storage, so a chunk it
        // copies can carry back a sector's old content over a write the guest just made (seen:
        // two counters lost in a planned switch under a guest writing 300 sectors a second).
        // Paused (or in io-error), nothing is written and the mirror copies nothing.
        let pausedAt = stateBefore == .running ? ContinuousClock.now : nil
        if pausedAt != nil { try await pause() }
        do {
            try await addNodes(disk.nodes(over: path, generation: generation), names: names, timeout: stepTimeout)
            do {
                try await mirror(from: current.node, onto: names.format, job: "disk0-switch\(generation)", timeout: stepTimeout)
            } catch {
                await removeNodes([names.format, names.nbd], timeout: stepTimeout)
                throw TetherError(.io, "\(name)'s disk stays on \(current.location.path): it could not be moved to \(path)",
                                  cause: "\(error)")
            }
        } catch {
            if pausedAt != nil { _ = try? await qmp.execute("cont", timeout: stepTimeout) }
            throw error
        }
        let pivot = ContinuousClock.now
        // Else QEMU keeps them, and flushes them (at a stop, a migration): on a dead path, an error.
        await removeNodes(Self.oldDiskNodes(top: current.node), timeout: stepTimeout)
        let (stateAfter, attempts) = try await resumeAfterSwitch(stateBefore: stateBefore, pausedHere: pausedAt != nil,
                                                                 timeout: stepTimeout)
        let end = ContinuousClock.now
        return DiskPathSwitch(from: current.location.path, to: path, stateBefore: stateBefore, stateAfter: stateAfter,
                              pivotMs: (pivot - start).timeInterval * 1000, totalMs: (end - start).timeInterval * 1000,
                              pausedMs: ((attempts.resumedAt ?? end) - (pausedAt ?? start)).timeInterval * 1000,
                              resumeAttempts: attempts.count)
    }

    /// The disk device's top node, its filename and its size, from `query-block`; nil when the VM
    /// has no such device.
    func diskDeviceNode() async throws -> (node: String, file: String, size: Int64)? {
        let devices = try await qmp.execute("query-block").array ?? []
        let device = devices.first { entry in
            let qdev = entry["qdev"]?.string ?? ""
            return qdev == NetworkDisk.deviceID || qdev.hasPrefix("/machine/peripheral/\(NetworkDisk.deviceID)/")
        }
        guard let device else { return nil }
        guard let inserted = device["inserted"], let node = inserted["node-name"]?.string, let file = inserted["file"]?.string else {
            throw TetherError(.internalError, "\(name)'s disk device \(NetworkDisk.deviceID) has no block node")
        }
        return (node, file, inserted["image"]?["virtual-size"]?.int ?? 0)
    }

    /// The network disk's top node and where it leads, from `query-block`.
    func networkDiskNode() async throws -> (node: String, location: (path: NBDPath, export: String))? {
        guard let (node, file, _) = try await diskDeviceNode() else { return nil }
        if node == DiskSink.names.top {
            throw TetherError(.unsupported, "\(name)'s disk is off its datastore (on the local sink, to be moved): it has no path")
        }
        guard let location = NetworkDisk.location(ofNodeFilename: file) else {
            throw TetherError(.unsupported, "\(name)'s disk \(NetworkDisk.deviceID) is not on an NBD path (\(file))")
        }
        return (node, location)
    }

    /// One more than the highest generation among the disk's nodes.
    private func nextDiskGeneration() async throws -> Int {
        let nodes = try await qmp.execute("query-named-block-nodes", ["flat": true]).array ?? []
        let generations = nodes.compactMap { $0["node-name"]?.string.flatMap(NetworkDisk.generation(ofNode:)) }
        return (generations.max() ?? -1) + 1
    }

    private func addNodes(_ nodes: (nbd: JSONValue, format: JSONValue), names: (nbd: String, format: String),
                          timeout: Duration) async throws {
        do {
            try await qmp.execute("blockdev-add", nodes.nbd, timeout: timeout)
        } catch {
            // A timed-out add may still complete in QEMU: take it away if it did.
            await removeNodes([names.nbd], timeout: timeout)
            throw TetherError(.io, "\(name) could not open its disk over the new path", cause: "\(error)")
        }
        do {
            try await qmp.execute("blockdev-add", nodes.format, timeout: timeout)
        } catch {
            await removeNodes([names.format, names.nbd], timeout: timeout)
            throw TetherError(.io, "\(name) could not open its disk's format over the new path", cause: "\(error)")
        }
    }

    /// Mirrors `source` onto `target` with nothing to copy (both are the same export) and
    /// completes the job, which puts `target` in `source`'s place under the device. The job is
    /// not dismissed automatically, so its outcome (and error) can be read.
    func mirror(from source: String, onto target: String, job: String, timeout: Duration) async throws {
        try await qmp.execute("blockdev-mirror", ["job-id": .string(job), "device": .string(source), "target": .string(target),
                                                  "sync": "none", "auto-dismiss": false], timeout: timeout)
        do {
            try await waitForJob(job, toReach: ["ready"], timeout: timeout)
            try await qmp.execute("job-complete", ["id": .string(job)], timeout: timeout)
            let concluded = try await waitForJob(job, toReach: ["concluded"], timeout: timeout)
            _ = try? await qmp.execute("job-dismiss", ["id": .string(job)], timeout: timeout)
            if let error = concluded["error"]?.string { throw TetherError(.io, "the mirror job \(job) failed: \(error)") }
        } catch {
            _ = try? await qmp.execute("job-cancel", ["id": .string(job)], timeout: timeout)
            _ = try? await waitForJob(job, toReach: ["concluded"], timeout: timeout)
            _ = try? await qmp.execute("job-dismiss", ["id": .string(job)], timeout: timeout)
            throw error
        }
        // The device must now read and write through `target`; a job that concluded without
        // pivoting leaves `source` there.
        guard let top = try await diskDeviceNode()?.node, top == target else {
            throw TetherError(.internalError, "the mirror job \(job) ended, but the disk is not on \(target)")
        }
    }

    /// Polls `query-jobs` until `job` is in one of `states` (the mirror is ready within
    /// milliseconds: there is nothing to copy); a job that concludes early is an error.
    @discardableResult
    private func waitForJob(_ job: String, toReach states: Set<String>, timeout: Duration) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while true {
            let jobs = try await qmp.execute("query-jobs").array ?? []
            guard let info = jobs.first(where: { $0["id"]?.string == job }) else {
                throw TetherError(.internalError, "the block job \(job) of \(name) vanished")
            }
            let status = info["status"]?.string ?? ""
            if states.contains(status) { return info }
            if status == "concluded" {
                throw TetherError(.io, "the block job \(job) of \(name) ended early", cause: info["error"]?.string)
            }
            guard ContinuousClock.now < deadline else {
                throw TetherError(.timeout, "the block job \(job) of \(name) is \(status), not \(states.sorted()), after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The nodes a replaced top node leaves: itself and, for a format node of the disk's, the
    /// NBD node of its generation under it.
    static func oldDiskNodes(top: String) -> [String] {
        guard let generation = NetworkDisk.generation(ofNode: top) else { return [top] }
        let names = NetworkDisk.nodeNames(generation: generation)
        return top == names.format ? [names.format, names.nbd] : [top]
    }

    /// Removes nodes, parents first, each allowed `timeout`. Best effort: a node QEMU does not
    /// have is skipped. Deleting an NBD node flushes it first; on a connection that has failed
    /// that returns at once, on one whose path died unnoticed it waits for TCP to give up
    /// (bounded by `tcp_retries2`).
    func removeNodes(_ names: [String], timeout: Duration) async {
        for node in names { _ = try? await qmp.execute("blockdev-del", ["node-name": .string(node)], timeout: timeout) }
    }

    /// Resumes a VM the switch paused, or that was (or became, mid-switch) paused in `io-error`:
    /// its state, how many `cont`s it took and when the last was sent. A `cont` can fail again
    /// (seen on a node whose link had come back: the first retry met the reconnect still under
    /// way), so it is tried again while the VM falls back to `io-error` within a short watch, up
    /// to three times.
    private func resumeAfterSwitch(stateBefore: VMRunState, pausedHere: Bool, timeout: Duration) async throws
        -> (VMRunState, (count: Int, resumedAt: ContinuousClock.Instant?)) {
        let state = try await status()
        let resumable = state == .ioError || (pausedHere && state == .paused)
        guard resumable, stateBefore == .ioError || stateBefore == .running else { return (state, (0, nil)) }
        let resumed = try await continueHeldRequests(timeout: timeout)
        guard resumed.state != .ioError else {
            throw TetherError(.io, "\(name)'s disk is on its new path, but the VM fell back to io-error after \(resumed.attempts) resumes")
        }
        return (resumed.state, (resumed.attempts, resumed.resumedAt))
    }

    /// `cont`, which issues the requests the device holds, then a 300 ms watch for a fall back to
    /// `io-error`; again while it falls back (the first request can meet a connection still being
    /// made), up to three times. Returns the state it ends in, the `cont`s sent and when the last went.
    func continueHeldRequests(timeout: Duration) async throws -> (state: VMRunState, attempts: Int, resumedAt: ContinuousClock.Instant?) {
        var state: VMRunState
        var attempts = 0
        var resumedAt: ContinuousClock.Instant?
        repeat {
            attempts += 1
            resumedAt = .now
            try await qmp.execute("cont", timeout: timeout)
            // The held request goes out on `cont`; over a live path it completes in milliseconds.
            let watchUntil = ContinuousClock.now + .milliseconds(300)
            repeat {
                try await Task.sleep(for: .milliseconds(20))
                state = try await status()
            } while state != .ioError && ContinuousClock.now < watchUntil
        } while state == .ioError && attempts < 3
        return (state, attempts, resumedAt)
    }
}
