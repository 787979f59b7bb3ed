import Foundation
import NIOConcurrencyHelpers
import TetherModel
import TetherSystem

/// One QEMU process (launched here, or adopted by its QMP socket) and the operations on it.
public final class QEMUMachine: VirtualMachineControl {
    public let name: String
    public let qmp: QMPClient
    /// The QEMU process when this driver started it; nil for an adopted VM.
    private let process: ChildProcess?
    public let logPath: String?
    /// The network namespace QEMU runs in (nil: the driver's own), where a disk path is probed.
    public let networkNamespace: String?
    /// QEMU's process id, when this process started it.
    public var processID: Int32? { process?.pid }
    /// This driver knows QEMU holds no migration TLS credentials: it started QEMU (whose
    /// parameters start empty) without an operator's monitor, or cleared them itself. A migration without TLS then skips
    /// asking (a QMP round trip on each end, in the time a migration adds to QEMU's own).
    let migrationTLSKnownClear: NIOLockedValueBox<Bool>
    /// QEMU sends MIGRATION events: turned on when this driver started it without an
    /// operator's monitor (who could turn them off), so that a migration does not spend a QMP
    /// command on them (a millisecond of QEMU's on two cores) before it can start.
    let migrationEventsKnownOn = NIOLockedValueBox(false)

    init(name: String, qmp: QMPClient, process: ChildProcess?, logPath: String?, networkNamespace: String? = nil) {
        migrationTLSKnownClear = NIOLockedValueBox(process != nil)
        self.name = name
        self.qmp = qmp
        self.process = process
        self.logPath = logPath
        self.networkNamespace = networkNamespace
    }

    /// Starts QEMU from `spec`, its QMP socket and log in `directory`, and connects. The spec is
    /// resolved first (`VMSpec.resolved(with:)`): an alias machine type becomes the versioned
    /// type this QEMU gives it, and the disk's format comes from its header; an unknown machine
    /// type or disk format is refused before QEMU starts. QEMU gets this process's environment
    /// without interposers (LD_PRELOAD): one meant for the caller (umockdev's, in tests) would
    /// intercept QEMU's own ioctls, /dev/kvm's among them. A network disk opens on the first of
    /// its paths that answers a probe (`NBDPathProbe`): QEMU would wait minutes on a dead one.
    public static func launch(_ requested: VMSpec, in directory: String, qemu: String = "qemu-system-x86_64",
                              timeout: Duration = .seconds(20)) async throws -> QEMUMachine {
        let executable = try Executable.find(qemu, package: "qemu-system-x86")
        var spec = try requested.resolved(with: MachineTypes.of(qemu: executable))
        if let disk = spec.networkDisk {
            spec.networkDisk?.paths = try await disk.answeringFirst(networkNamespace: spec.networkNamespace)
        }
        let socket = "\(directory)/\(spec.name).qmp"
        let log = "\(directory)/\(spec.name).log"
        try? FileManager.default.removeItem(atPath: socket)
        let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw TetherError(.io, "cannot write QEMU's log at \(log)", cause: String(cString: strerror(errno))) }
        defer { close(logFD) }
        var program = executable, arguments = try spec.arguments(qmpSocket: socket)
        if let namespace = spec.networkNamespace {
            // `ip netns exec` execs QEMU in place: the child's pid is QEMU's, and signals reach it.
            program = try Executable.find("ip", package: "iproute2")
            arguments = ["netns", "exec", namespace, executable] + arguments
        }
        let process = try await ChildProcess.start(program, arguments, output: logFD, environment: cleanEnvironment())
        let exited = {
            TetherError(.io, "QEMU for \(spec.name) exited at start (status \(process.terminationStatus ?? -1)): \(tail(log))")
        }
        // Wait for the socket, or for QEMU to give up (a bad argument, a busy port).
        let deadline = ContinuousClock.now + timeout
        while !FileManager.default.fileExists(atPath: socket) {
            guard process.isRunning else { throw exited() }
            guard ContinuousClock.now < deadline else {
                process.signal(SIGKILL)
                throw TetherError(.timeout, "QEMU for \(spec.name) did not open its QMP socket within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        // QEMU creates the socket before it initialises the accelerator, and may still fail
        // then: connect in short attempts, and stop as soon as it has exited.
        while true {
            do {
                let qmp = try await QMPClient.connect(socketPath: socket, timeout: .seconds(1))
                let machine = QEMUMachine(name: spec.name, qmp: qmp, process: process, logPath: log, networkNamespace: spec.networkNamespace)
                // An operator's monitor can set migration parameters this driver does not see.
                if spec.operatorMonitor != nil {
                    machine.migrationTLSKnownClear.withLockedValue { $0 = false }
                } else if (try? await machine.enableMigrationEvents()) != nil {
                    machine.migrationEventsKnownOn.withLockedValue { $0 = true }
                }
                return machine
            } catch {
                guard process.isRunning else { throw exited() }
                guard ContinuousClock.now < deadline else {
                    process.signal(SIGKILL)
                    throw error
                }
            }
        }
    }

    static func cleanEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !["LD_PRELOAD", "UMOCKDEV_DIR"].contains($0.key) }
    }

    /// Takes over a QEMU already running, by its QMP socket; `networkNamespace` is the one it
    /// runs in, if not the driver's.
    public static func adopt(socketPath: String, name: String? = nil, networkNamespace: String? = nil,
                             timeout: Duration = .seconds(10)) async throws -> QEMUMachine {
        let qmp = try await QMPClient.connect(socketPath: socketPath, timeout: timeout)
        let reported = try? await qmp.execute("query-name", timeout: timeout)["name"]?.string
        return QEMUMachine(name: name ?? reported ?? socketPath, qmp: qmp, process: nil, logPath: nil, networkNamespace: networkNamespace)
    }

    static func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return String(text.suffix(400)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var isProcessRunning: Bool { process?.isRunning ?? false }

    // MARK: state

    public func status() async throws -> VMRunState {
        try await status(within: .seconds(30))
    }

    public func status(within timeout: Duration) async throws -> VMRunState {
        VMRunState(try await qmp.execute("query-status", timeout: timeout)["status"]?.string ?? "unknown")
    }

    /// The versioned machine type QEMU runs (`pc-i440fx-7.2`), to start a migration's target
    /// with: QEMU 7.2's query-machines does not say which type is current, so it is read from
    /// the QOM type of /machine (`pc-i440fx-7.2-machine`).
    public func machineType() async throws -> String {
        let type = try await qmp.execute("qom-get", ["path": "/machine", "property": "type"]).string ?? ""
        guard type.hasSuffix("-machine"), type.count > "-machine".count else {
            throw TetherError(.internalError, "QEMU for \(name) reports a machine of type '\(type)', not TYPE-machine")
        }
        return String(type.dropLast("-machine".count))
    }

    public func pause() async throws { try await qmp.execute("stop") }
    public func resume() async throws { try await qmp.execute("cont") }
    public func reset() async throws { try await qmp.execute("system_reset") }

    /// Waits until the VM is in `state`, polling, or throws at the deadline.
    public func waitForStatus(_ wanted: VMRunState, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = try await status()
        while last != wanted {
            guard ContinuousClock.now < deadline else {
                throw TetherError(.timeout, "\(name) is \(last), not \(wanted), after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
            last = try await status()
        }
    }

    /// Ends QEMU: `quit` over QMP, or SIGTERM (which QEMU takes as a clean shutdown) when this
    /// driver's QMP connection was handed to someone else; SIGKILL if it lingers.
    public func quit() async throws {
        if qmp.isConnected {
            _ = try? await qmp.execute("quit", timeout: .seconds(5))
            await qmp.close()
        } else if let process {
            // SIGTERM, then SIGKILL if it lingers: Subprocess's teardown sequence.
            await process.stop(grace: .seconds(5))
            return
        }
        await waitForExit(timeout: .seconds(5))
    }

    /// SIGTERM: QEMU shuts down cleanly.
    public func terminate() { process?.signal(SIGTERM) }

    /// Kills QEMU at once (tests: a host that dies).
    public func kill() async {
        process?.signal(SIGKILL)
        await waitForExit(timeout: .seconds(5))
    }

    private func waitForExit(timeout: Duration) async {
        guard let process else { return }
        if await process.waitForExit(timeout: timeout) == nil {
            process.signal(SIGKILL)
            _ = await process.waitForExit(timeout: .seconds(5))
        }
    }

    /// Guest physical memory to a file (pmemsave): how tests check that RAM survived.
    public func saveGuestMemory(address: UInt64, size: Int, to path: String) async throws {
        try await qmp.execute("pmemsave", ["val": .int(Int64(address)), "size": .int(Int64(size)), "filename": .string(path)])
    }
}
