import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// The machine type a VM runs, against real QEMU: versioned, reported, and the same on both
/// ends of a migration.
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct MachineTypeTests {
    /// The `pc` alias becomes the versioned type this QEMU gives it, on the command line, and
    /// the running VM says so.
    @Test func aStartedVMRunsAndReportsAVersionedMachineType() async throws {
        try await QEMUTestbed.with { bed in
            let types = try MachineTypes.of()
            let versioned = try #require(types.aliases["pc"])
            #expect(versioned.wholeMatch(of: /pc-i440fx-\d+\.\d+/) != nil, "\(versioned)")
            let spec = try VMSpec(name: "typed", memoryMiB: 64).resolved(with: types)
            #expect(spec.machineType == versioned)
            #expect(try spec.arguments(qmpSocket: "x").contains("\(versioned),memory-backend=ram"))

            let vm = try await bed.launch(VMSpec(name: "typed", memoryMiB: 64))
            #expect(try await vm.machineType() == versioned)
        }
    }

    /// The target is started with the type the source reports, here an older one than `pc`
    /// stands for (as a source on an older QEMU would run), and receives the migration.
    @Test func anIncomingVMStartedWithTheSourcesTypeReceivesItsMigration() async throws {
        try await QEMUTestbed.with { bed in
            let types = try MachineTypes.of()
            let older = try #require(types.names.filter { $0.hasPrefix("pc-i440fx-") && $0 != types.aliases["pc"] }
                .max { $0.compare($1, options: .numeric) == .orderedAscending })
            let size = QEMUMachineTests.patternSize, address = QEMUMachineTests.patternAddress
            let pattern = try bed.pattern("pattern.bin", size: size, seed: 0x7E1)
            let source = try await bed.launch(VMSpec(name: "src", machineType: older, memoryImages: [(bed.path("pattern.bin"), address)]))
            let sourceType = try await source.machineType()
            #expect(sourceType == older)

            let target = try await bed.launch(VMSpec(name: "dst", machineType: sourceType, incoming: true))
            #expect(try await target.machineType() == sourceType)
            let result = try await source.migrate(to: target, uri: "tcp:127.0.0.1:\(try QEMUTestbed.freePort())",
                                                  options: MigrationOptions(timeout: .seconds(120))) { _ in }
            #expect(result.status == .completed)
            #expect(try await target.status() == .running)
            try await target.saveGuestMemory(address: address, size: size, to: bed.path("after.bin"))
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: bed.path("after.bin")))) == pattern)
        }
    }

    @Test func aMachineTypeThisQEMULacksIsRefused() async throws {
        try await QEMUTestbed.with { bed in
            let refused = await bed.launchRefusal(VMSpec(name: "future", memoryMiB: 64, machineType: "pc-i440fx-99.0", incoming: true))
            #expect(refused?.code == .unsupported)
            #expect(refused?.message.contains("pc-i440fx-99.0") == true)
        }
    }
}
