import TetherModel

/// The local stand-in a disk is moved onto before a VM whose datastore is out of reach is
/// stopped or migrated (shared/notes/qemu-storage-faults.md): QEMU flushes every disk when it
/// stops the VM for a migration, a flush towards a dead path fails, and the migration with it.
/// The sink accepts flushes and fails every read and write (EIO): `null-co` under `blkdebug`
/// under `raw`, whose reads raise blkdebug's `read_aio` event. A request that fails on it pauses
/// the VM (werror/rerror=stop) and is held by the device, so it travels with the device's state
/// and is issued again on the migration's target, over that host's own path; a source resumed by
/// mistake reaches nothing.
enum DiskSink {
    static let names = (top: "disk0-sink", debug: "disk0-sink-dbg", null: "disk0-sink-null")

    /// The `blockdev-add` arguments, innermost first, for a sink of `size` bytes (a mirror's target
    /// must be as large as its source).
    static func nodes(size: Int64) -> [JSONValue] {
        let failing: [JSONValue] = [("read_aio", "read"), ("pwritev", "write"), ("write_aio", "write")].map { event, type in
            ["event": .string(event), "iotype": .string(type), "errno": 5, "once": false]
        }
        return [["driver": "null-co", "node-name": .string(names.null), "size": .int(size)],
                ["driver": "blkdebug", "node-name": .string(names.debug), "image": .string(names.null), "inject-error": .array(failing)],
                ["driver": "raw", "node-name": .string(names.top), "file": .string(names.debug)]]
    }
}

extension QEMUMachine {
    /// Takes the network disk off its datastore onto the local sink (`DiskSink`), pausing the VM
    /// first: what comes after is a migration of a VM that no longer writes. Returns false when the
    /// disk was on the sink already (a repeated request). Pausing a VM with a request in flight on
    /// a dead path waits for TCP to give up on it (bounded by the host's `tcp_retries2`), hence
    /// the deadline per step.
    @discardableResult
    public func leaveStorage(stepTimeout: Duration = .seconds(15)) async throws -> Bool {
        guard let (node, file, size) = try await diskDeviceNode() else {
            throw TetherError(.notFound, "\(name) has no disk device \(NetworkDisk.deviceID) to take off its datastore")
        }
        if node == DiskSink.names.top { return false }
        guard NetworkDisk.location(ofNodeFilename: file) != nil else {
            throw TetherError(.unsupported, "\(name)'s disk is not on a datastore (\(file)); there is nothing to leave")
        }
        if try await status() == .running { try await qmp.execute("stop", timeout: stepTimeout) }
        let added = DiskSink.nodes(size: size)
        do {
            for arguments in added { try await qmp.execute("blockdev-add", arguments, timeout: stepTimeout) }
            try await mirror(from: node, onto: DiskSink.names.top, job: "disk0-leave", timeout: stepTimeout)
        } catch {
            await removeNodes([DiskSink.names.top, DiskSink.names.debug, DiskSink.names.null], timeout: stepTimeout)
            throw TetherError(.io, "\(name)'s disk could not be taken off its datastore; the VM stays paused", cause: "\(error)")
        }
        // Else a later flush (the migration's) still reaches the dead node.
        await removeNodes(Self.oldDiskNodes(top: node), timeout: stepTimeout)
        return true
    }

    /// Runs a VM that arrived paused (its source was paused, or in `io-error` with a request held):
    /// `continueHeldRequests`, which issues the held request over this host's path. Returns the
    /// state it ends in.
    @discardableResult
    public func resumeAfterMove(timeout: Duration = .seconds(10)) async throws -> VMRunState {
        let deadline = ContinuousClock.now + timeout
        var state = try await status()
        while state == .inmigrate {
            guard ContinuousClock.now < deadline else { throw TetherError(.timeout, "\(name) is still waiting for its state after \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
            state = try await status()
        }
        guard state != .running else { return state }
        guard [.paused, .ioError, .suspended].contains(state) else {
            throw TetherError(.io, "\(name) arrived \(state); it cannot be resumed")
        }
        let resumed = try await continueHeldRequests(timeout: timeout)
        guard resumed.state == .running else {
            throw TetherError(.io, "\(name) fell back to \(resumed.state) after \(resumed.attempts) resumes")
        }
        return resumed.state
    }
}
