import Foundation
import Hypervisor
import TetherModel
import TetherSystem

/// A datastore's storage system in the lab and the tests: one qemu-storage-daemon serving a
/// writable NBD export per raw image (a VM's disk, and the datastore's `tether-heartbeats`),
/// optionally inside a network namespace. It listens on one address (`0.0.0.0`, in its
/// namespace, covers every storage link: the daemon runs a single NBD server), and its QMP socket
/// adds and removes exports while it runs: removing one drops every connection to it, the way to
/// cut a host off at the storage.
public actor StorageServer {
    /// One image served under a name.
    public struct Export: Sendable, Hashable {
        public var name: String
        /// A raw image file.
        public var image: String

        public init(name: String, image: String) {
            self.name = name
            self.image = image
        }
    }

    /// The heartbeat export every datastore has.
    public static let heartbeatExport = "tether-heartbeats"
    public static let heartbeatBytes = 1 << 20

    public let port: Int
    public let networkNamespace: String?
    public let qmpSocket: String
    public let logPath: String
    private let process: ChildProcess
    private let qmp: QMPClient
    /// Every export ever added, by name: its block node (kept while the export is removed, so it
    /// can come back) and its export id; each numbered, since export names are not node names.
    private var served: [String: (export: Export, node: String, id: String)] = [:]

    private init(port: Int, networkNamespace: String?, qmpSocket: String, logPath: String, process: ChildProcess, qmp: QMPClient) {
        self.port = port
        self.networkNamespace = networkNamespace
        self.qmpSocket = qmpSocket
        self.logPath = logPath
        self.process = process
        self.qmp = qmp
    }

    /// Starts the daemon with `exports`, listening on `host:port` (in `networkNamespace`, an
    /// `ip netns` name, when given); its QMP socket and log in `directory`.
    public static func start(exports: [Export], host: String = "0.0.0.0", port: Int = NBDPath.defaultPort,
                             networkNamespace: String? = nil, directory: String,
                             timeout: Duration = .seconds(10)) async throws -> StorageServer {
        let daemon = try Executable.find("qemu-storage-daemon", package: "qemu-system-common")
        let socket = "\(directory)/storage-\(port).qmp", log = "\(directory)/storage-\(port).log"
        try? FileManager.default.removeItem(atPath: socket)
        var program = daemon
        var arguments = ["--nbd-server", "addr.type=inet,addr.host=\(host),addr.port=\(port)",
                         "--chardev", "socket,id=qmp,path=\(socket),server=on,wait=off", "--monitor", "chardev=qmp"]
        if let networkNamespace {
            program = try Executable.find("ip", package: "iproute2")
            arguments = ["netns", "exec", networkNamespace, daemon] + arguments
        }
        let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard logFD >= 0 else {
            throw TetherError(.io, "cannot write the storage server's log at \(log)", cause: String(cString: strerror(errno)))
        }
        defer { close(logFD) }
        let process = try await ChildProcess.start(program, arguments, output: logFD)
        let deadline = ContinuousClock.now + timeout
        var client: QMPClient?
        while client == nil {
            guard process.isRunning else { throw exited(process, log: log) }
            guard ContinuousClock.now < deadline else {
                await process.stop()
                throw TetherError(.timeout, "qemu-storage-daemon did not open its QMP socket \(socket) within \(timeout)")
            }
            if FileManager.default.fileExists(atPath: socket) {
                client = try? await QMPClient.connect(socketPath: socket, timeout: .seconds(1))
            }
            if client == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        guard let client else { throw TetherError(.internalError, "no QMP connection to qemu-storage-daemon") }
        let server = StorageServer(port: port, networkNamespace: networkNamespace, qmpSocket: socket, logPath: log,
                                   process: process, qmp: client)
        do {
            for export in exports { try await server.addExport(export) }
        } catch {
            await server.stop()
            throw error
        }
        return server
    }

    private static func exited(_ process: ChildProcess, log: String) -> TetherError {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return TetherError(.io, "qemu-storage-daemon exited at start (status \(process.terminationStatus ?? -1))",
                           cause: String(text.suffix(400)).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Serves `export` (again, after `removeExport`): writable, to any number of clients.
    public func addExport(_ export: Export) async throws {
        let entry: (export: Export, node: String, id: String)
        if let known = served[export.name] {
            guard known.export.image == export.image else {
                throw TetherError(.busy, "the export \(export.name) is \(known.export.image), not \(export.image)")
            }
            entry = known
        } else {
            guard FileManager.default.fileExists(atPath: export.image) else {
                throw TetherError(.notFound, "no image \(export.image) to export as \(export.name)")
            }
            entry = (export, "image\(served.count)", "export\(served.count)")
            try await qmp.execute("blockdev-add", ["driver": "file", "node-name": .string(entry.node), "filename": .string(export.image)])
            served[export.name] = entry
        }
        try await qmp.execute("block-export-add", ["type": "nbd", "id": .string(entry.id), "node-name": .string(entry.node),
                                                   "name": .string(export.name), "writable": true])
    }

    /// Stops serving `name` and drops every connection to it at once (`mode: hard`): its
    /// clients' requests fail, and nothing reaches the image through this server until
    /// `addExport` serves it again. Returns once the export is gone.
    public func removeExport(named name: String, timeout: Duration = .seconds(5)) async throws {
        guard let entry = served[name] else { throw TetherError(.notFound, "the storage server has no export \(name)") }
        try await qmp.execute("block-export-del", ["id": .string(entry.id), "mode": "hard"])
        // Deletion finishes in the background (the export is `shutting-down` meanwhile), and its
        // id cannot be used again until it has.
        let deadline = ContinuousClock.now + timeout
        while try await exportIDs().contains(entry.id) {
            guard ContinuousClock.now < deadline else {
                throw TetherError(.timeout, "the export \(name) was still shutting down after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The names of the exports served now.
    public func exportNames() async throws -> [String] {
        let ids = try await exportIDs()
        return served.values.filter { ids.contains($0.id) }.map(\.export.name).sorted()
    }

    private func exportIDs() async throws -> Set<String> {
        Set((try await qmp.execute("query-block-exports").array ?? []).compactMap { $0["id"]?.string })
    }

    /// Stops the daemon's process (SIGSTOP): its kernel still acknowledges what clients send,
    /// and nothing answers, as a server that stalls. `resume` lets it go on.
    public func suspend() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }

    /// Ends the daemon: `quit`, then SIGTERM and SIGKILL if it lingers.
    public func stop() async {
        _ = try? await qmp.execute("quit", timeout: .seconds(2))
        await qmp.close()
        if await process.waitForExit(timeout: .seconds(5)) == nil { _ = await process.stop(grace: .seconds(2)) }
    }

    /// Makes a sparse raw image of `bytes` bytes at `path` (replacing one that is there).
    public static func createImage(at path: String, bytes: Int) throws(TetherError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TetherError(.io, "cannot create the image \(path)", cause: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(bytes)) == 0 else {
            throw TetherError(.io, "cannot size the image \(path) to \(bytes) bytes", cause: String(cString: strerror(errno)))
        }
    }
}
