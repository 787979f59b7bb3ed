import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// The QEMU driver against real QEMU processes (KVM when /dev/kvm opens, else TCG), tiny VMs
/// with no guest OS. `.serialized`: each test runs several VMs, and the machine has two cores.
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct QEMUMachineTests {
    static let patternAddress: UInt64 = 0x100_0000   // 16 MiB: above what SeaBIOS touches
    static let patternSize = 4 << 20

    @Test func launchReportsStatusAndQuits() async throws {
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "plain", memoryMiB: 64))
            #expect(try await vm.status() == .running)
            #expect(vm.qmp.greeting["version"]?["qemu"]?["major"]?.int ?? 0 >= 7)
            try await vm.quit()
            #expect(!vm.isProcessRunning)
        }
    }

    /// A QEMU this driver starts takes SIGTERM as a clean shutdown: it is spawned with an empty
    /// signal mask, not the blocked mask of the thread that started it.
    @Test func aLaunchedQEMUStopsOnSIGTERM() async throws {
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "sigterm", memoryMiB: 64))
            let start = ContinuousClock.now
            vm.terminate()
            for _ in 0..<250 where vm.isProcessRunning { try await Task.sleep(for: .milliseconds(10)) }
            #expect(!vm.isProcessRunning, "QEMU ignored SIGTERM")
            #expect(ContinuousClock.now - start < .seconds(2))
        }
    }

    @Test func liveMigrationKeepsGuestRAMByteForByte() async throws {
        try await QEMUTestbed.with { bed in
            let pattern = try bed.pattern("pattern.bin", size: Self.patternSize, seed: 0xC0FFEE)
            let source = try await bed.launch(VMSpec(name: "src", memoryImages: [(bed.path("pattern.bin"), Self.patternAddress)]))
            let target = try await bed.launch(VMSpec(name: "dst", incoming: true))
            #expect(try await target.status() == .inmigrate)
            // MIGRATION events are on from the start, so that a migration need not turn them on
            // before it can begin; the driver follows the migration to its end by them.
            let capabilities = try await source.qmp.execute("query-migrate-capabilities").array ?? []
            #expect(capabilities.contains { $0["capability"]?.string == "events" && $0["state"]?.bool == true }, "\(capabilities)")

            let seen = ProgressLog()
            let port = try QEMUTestbed.freePort()
            let result = try await source.migrate(to: target, uri: "tcp:127.0.0.1:\(port)",
                                                  options: MigrationOptions(downtimeLimitMs: 300)) { seen.append($0) }
            #expect(result.status == .completed)
            #expect(result.transferredBytes > Int64(Self.patternSize), "the pattern crossed")
            #expect(result.totalTimeMs > 0)
            #expect(result.driverTotalMs >= Double(result.totalTimeMs))
            #expect(result.downtimeMs <= 300, "within the configured limit")
            #expect(seen.last?.status == .completed)
            #expect(try await source.status() == .postmigrate)
            #expect(try await target.status() == .running)

            try await target.saveGuestMemory(address: Self.patternAddress, size: Self.patternSize, to: bed.path("after.bin"))
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: bed.path("after.bin")))) == pattern)
        }
    }

    @Test func saveAndRestoreOnAThirdVMKeepsGuestRAM() async throws {
        try await QEMUTestbed.with { bed in
            let pattern = try bed.pattern("pattern.bin", size: Self.patternSize, seed: 0x5AFE)
            let original = try await bed.launch(VMSpec(name: "orig", memoryImages: [(bed.path("pattern.bin"), Self.patternAddress)]))
            let saved = try await original.saveState(to: bed.path("state.bin"))
            #expect(saved.status == .completed)
            #expect(try await original.status() == .postmigrate)
            let size = (try FileManager.default.attributesOfItem(atPath: bed.path("state.bin"))[.size] as? Int) ?? 0
            #expect(size > Self.patternSize)
            try await original.quit()

            let restored = try await bed.launch(VMSpec(name: "third", incoming: true))
            try await restored.restoreState(from: bed.path("state.bin"))
            #expect(try await restored.status() == .running)
            try await restored.saveGuestMemory(address: Self.patternAddress, size: Self.patternSize, to: bed.path("after.bin"))
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: bed.path("after.bin")))) == pattern)
        }
    }

    @Test func aPanickingGuestIsSeenDumpedAndRestarted() async throws {
        try await QEMUTestbed.with { bed in
            let disk = try bed.panickingBootSector("panic.img")
            let vm = try await bed.launch(VMSpec(name: "crashy", memoryMiB: 64, panicDevice: true, disk: disk,
                                                 extraArguments: ["-S"]))   // held until we listen
            let events = vm.qmp.events()
            try await vm.resume()
            let panic = try await events.first(named: "GUEST_PANICKED", within: .seconds(60))
            #expect(panic.data["action"]?.string == "pause")
            #expect(try await vm.status() == .guestPanicked)

            let again = vm.qmp.events()
            try await vm.collectCrashAndRestart(dumpTo: bed.path("crash.core"))
            let core = try Data(contentsOf: URL(fileURLWithPath: bed.path("crash.core")))
            #expect(core.prefix(4) == Data([0x7F, 0x45, 0x4C, 0x46]), "an ELF core")
            #expect(core.count > 64 << 20, "the guest's whole memory")
            // The restarted guest boots its boot sector again, and panics again: it really ran.
            _ = try await again.first(named: "GUEST_PANICKED", within: .seconds(60))
        }
    }

    @Test func qemuRefusalsCarryItsClassAndDescription() async throws {
        try await QEMUTestbed.with { bed in
            let vm = try await bed.launch(VMSpec(name: "refuse", memoryMiB: 64))
            await #expect {
                try await vm.qmp.execute("device_add", ["driver": "no-such-device", "id": "x"])
            } throws: { error in
                guard case QMPError.refused(let command, let errorClass, let description) = error else { return false }
                return command == "device_add" && errorClass == "GenericError" && description.contains("no-such-device")
            }
            #expect(try await vm.status() == .running, "a refused command changes nothing")
        }
    }
}

/// Progress reports, collected from the migration's callback.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [MigrationProgress] = []
    func append(_ p: MigrationProgress) { lock.withLock { entries.append(p) } }
    var last: MigrationProgress? { lock.withLock { entries.last } }
}
