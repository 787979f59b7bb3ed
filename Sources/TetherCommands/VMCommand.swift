import ArgumentParser
import Foundation
import Hypervisor
import TetherModel

/// `tether vm`: the hypervisor driver by hand, on VMs identified by their QMP sockets. The
/// daemon uses the same code paths.
public struct VMCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Drive a QEMU VM over QMP: status, live migration, suspend-save and restore.",
        subcommands: [Status.self, Migrate.self, Save.self, Restore.self]
    )

    public init() {}

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a VM's run state.")
        @Option(help: "The VM's QMP socket.") var qmp: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await FailureReporting.run {
                let vm = try await QEMUMachine.adopt(socketPath: qmp)
                let status = try await vm.status()
                let version = vm.qmp.greeting["version"]?["qemu"]
                let qemu = [version?["major"], version?["minor"], version?["micro"]].compactMap { $0?.int }.map(String.init).joined(separator: ".")
                await vm.qmp.close()
                if json {
                    print(try VMCommand.json(JSONValue.object(["name": .string(vm.name), "status": .string(status.description), "qemu": .string(qemu)])))
                } else {
                    print("\(vm.name): \(status) (QEMU \(qemu))")
                }
            }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Live-migrate a VM to a receiving VM (started with -incoming defer).")
        @Option(help: "The source VM's QMP socket.") var qmp: String
        @Option(name: .customLong("to-qmp"), help: "The receiving VM's QMP socket.") var toQMP: String
        @Option(help: "Where the receiving VM listens, e.g. tcp:10.0.0.2:4444.") var uri: String
        @Option(name: .customLong("max-bandwidth"), help: "Cap on the migration stream, in MB/s.") var maxBandwidth: Int?
        @Option(name: .customLong("downtime-ms"), help: "The longest pause the VM may see at the switch-over.") var downtimeMs: Int?
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            if let maxBandwidth, maxBandwidth <= 0 { throw ValidationError("--max-bandwidth must be positive (MB/s)") }
            if let downtimeMs, downtimeMs <= 0 { throw ValidationError("--downtime-ms must be positive") }
        }

        func run() async throws {
            try await FailureReporting.run {
                let source = try await QEMUMachine.adopt(socketPath: qmp)
                let target = try await QEMUMachine.adopt(socketPath: toQMP)
                let bar = ProgressBar()
                let result = try await source.migrate(
                    to: target, uri: uri,
                    options: MigrationOptions(downtimeLimitMs: downtimeMs, maxBandwidthBytesPerSecond: maxBandwidth.map { $0 * 1_000_000 })
                ) { bar.show($0) }
                bar.finish()
                await source.qmp.close()
                await target.qmp.close()
                print(json ? try VMCommand.json(result) : VMCommand.text(result, what: "migrated \(source.name) to \(target.name)"))
            }
        }
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend a VM and write its full state to a file.")
        @Option(help: "The VM's QMP socket.") var qmp: String
        @Option(help: "The file to write.") var state: String
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            try await FailureReporting.run {
                let vm = try await QEMUMachine.adopt(socketPath: qmp)
                let result = try await vm.saveState(to: URL(fileURLWithPath: state).path)
                await vm.qmp.close()
                print(json ? try VMCommand.json(result) : VMCommand.text(result, what: "saved \(vm.name) to \(state); it stays paused"))
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load a saved state into a VM started with -incoming defer, and run it.")
        @Option(help: "The receiving VM's QMP socket.") var qmp: String
        @Option(help: "The saved state.") var state: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await FailureReporting.run {
                let vm = try await QEMUMachine.adopt(socketPath: qmp)
                try await vm.restoreState(from: URL(fileURLWithPath: state).path)
                let status = try await vm.status()
                await vm.qmp.close()
                print(json ? try VMCommand.json(JSONValue.object(["name": .string(vm.name), "status": .string(status.description)]))
                           : "restored \(vm.name) from \(state): \(status)")
            }
        }
    }

    /// One line on stderr and exit status 1 for anything the driver or QEMU reports.

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func text(_ r: MigrationResult, what: String) -> String {
        "\(what): \(r.status) in \(r.totalTimeMs) ms (QEMU), \(Int(r.driverTotalMs.rounded())) ms in all; "
            + "downtime \(r.downtimeMs) ms; \(r.transferredBytes / 1_000_000) MB transferred"
    }
}

/// `[#####.....]  42%  118.3 MB/s  1.2 GB left` on stderr, redrawn in place.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private var drawn = false

    func show(_ p: MigrationProgress) {
        let width = 30
        let filled = Int(p.fraction * Double(width))
        let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(format: "%3d%%  %7.1f MB/s  %@ left", Int(p.fraction * 100), p.megabitsPerSecond / 8,
                     Self.size(p.remainingBytes))
        lock.withLock {
            drawn = true
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func finish() {
        lock.withLock { if drawn { FileHandle.standardError.write(Data("\n".utf8)) } }
    }

    static func size(_ bytes: Int64) -> String {
        bytes >= 1_000_000_000 ? String(format: "%.1f GB", Double(bytes) / 1e9) : String(format: "%.1f MB", Double(bytes) / 1e6)
    }
}
