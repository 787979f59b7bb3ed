import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherTestSupport

/// `tether vm` on real QEMU VMs. A QMP socket serves one client at a time, so the test lets go
/// of its own connection before the command runs, and takes the VM back after.
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct VMCommandTests {
    func tether(_ arguments: [String]) async throws -> ProcessResult {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["vm"] + arguments, timeout: 120)
        try #require(!result.timedOut, "tether vm \(arguments.first ?? "") hung")
        return result
    }

    func socket(_ bed: QEMUTestbed, _ name: String) -> String { bed.path("\(name).qmp") }

    @Test func statusMigrateAndTheirFigures() async throws {
        try await QEMUTestbed.with { bed in
            let pattern = try bed.pattern("p.bin", size: 4 << 20, seed: 9)
            let source = try await bed.launch(VMSpec(name: "src", memoryImages: [(bed.path("p.bin"), 0x100_0000)]))
            let target = try await bed.launch(VMSpec(name: "dst", incoming: true))
            await source.qmp.close()
            await target.qmp.close()

            let status = try await tether(["status", "--qmp", socket(bed, "src"), "--json"])
            #expect(status.status == 0, "\(status.stderr)")
            let statusJSON = try JSONDecoder().decode([String: String].self, from: Data(status.stdout.utf8))
            #expect(statusJSON["status"] == "running")
            #expect(statusJSON["name"] == "src")

            let port = try QEMUTestbed.freePort()
            let migrate = try await tether(["migrate", "--qmp", socket(bed, "src"), "--to-qmp", socket(bed, "dst"),
                                      "--uri", "tcp:127.0.0.1:\(port)", "--downtime-ms", "300", "--max-bandwidth", "1000", "--json"])
            #expect(migrate.status == 0, "\(migrate.stderr)")
            let result = try JSONDecoder().decode(MigrationResult.self, from: Data(migrate.stdout.utf8))
            #expect(result.status == .completed)
            #expect(result.totalTimeMs > 0 && result.transferredBytes > 4 << 20)
            #expect(result.downtimeMs <= 300)
            #expect(migrate.stderr.contains("100%"), "the progress bar ends full: \(migrate.stderr)")

            let moved = try await QEMUMachine.adopt(socketPath: socket(bed, "dst"))
            #expect(try await moved.status() == .running)
            try await moved.saveGuestMemory(address: 0x100_0000, size: 4 << 20, to: bed.path("after.bin"))
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: bed.path("after.bin")))) == pattern)
            await moved.qmp.close()
            let left = try await tether(["status", "--qmp", socket(bed, "src")])
            #expect(left.stdout.contains("src: postmigrate"))
        }
    }

    @Test func aMigrationToAVMThatIsNotReceivingFailsAndTheSourceRuns() async throws {
        try await QEMUTestbed.with { bed in
            let source = try await bed.launch(VMSpec(name: "src", memoryMiB: 64))
            let busy = try await bed.launch(VMSpec(name: "busy", memoryMiB: 64))   // not started with -incoming
            await source.qmp.close()
            await busy.qmp.close()
            let port = try QEMUTestbed.freePort()
            let migrate = try await tether(["migrate", "--qmp", socket(bed, "src"), "--to-qmp", socket(bed, "busy"),
                                      "--uri", "tcp:127.0.0.1:\(port)", "--json"])
            #expect(migrate.status == 1)
            #expect(migrate.stdout.isEmpty)
            #expect(migrate.stderr.hasPrefix("error: QEMU refused migrate-incoming"), "\(migrate.stderr)")
            #expect(migrate.stderr.split(separator: "\n").count == 1, "one clear line")
            let after = try await tether(["status", "--qmp", socket(bed, "src")])
            #expect(after.stdout.contains("src: running"), "nothing lost: \(after.stdout)")
        }
    }

    @Test func saveThenRestoreOnAnotherVM() async throws {
        try await QEMUTestbed.with { bed in
            let pattern = try bed.pattern("p.bin", size: 4 << 20, seed: 11)
            let original = try await bed.launch(VMSpec(name: "orig", memoryImages: [(bed.path("p.bin"), 0x100_0000)]))
            let spare = try await bed.launch(VMSpec(name: "spare", incoming: true))
            await original.qmp.close()
            await spare.qmp.close()

            let save = try await tether(["save", "--qmp", socket(bed, "orig"), "--state", bed.path("vm.state"), "--json"])
            #expect(save.status == 0, "\(save.stderr)")
            #expect(try JSONDecoder().decode(MigrationResult.self, from: Data(save.stdout.utf8)).status == .completed)
            let restore = try await tether(["restore", "--qmp", socket(bed, "spare"), "--state", bed.path("vm.state"), "--json"])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(restore.stdout.contains(#""status":"running""#))

            let vm = try await QEMUMachine.adopt(socketPath: socket(bed, "spare"))
            try await vm.saveGuestMemory(address: 0x100_0000, size: 4 << 20, to: bed.path("after.bin"))
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: bed.path("after.bin")))) == pattern)
            await vm.qmp.close()
        }
    }

    @Test func aMissingSocketOrStateIsOneClearLine() async throws {
        let missing = try await tether(["status", "--qmp", "/tmp/no-such.qmp"])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("error: cannot connect to QMP socket /tmp/no-such.qmp"))
        try await QEMUTestbed.with { bed in
            let spare = try await bed.launch(VMSpec(name: "spare", memoryMiB: 64, incoming: true))
            await spare.qmp.close()
            let restore = try await tether(["restore", "--qmp", socket(bed, "spare"), "--state", bed.path("nothing.state")])
            #expect(restore.status == 1)
            #expect(restore.stderr.contains("no saved state at"))
        }
    }
}
