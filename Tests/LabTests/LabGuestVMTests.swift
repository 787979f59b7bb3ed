import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// The lab guest booted by real QEMU from a raw image: its sequence, its pace, a live migration
/// and a crash. The image is read while the VM is paused (or its writes have stopped).
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 (Debian's qemu-system-x86)"))
struct LabGuestVMTests {
    static func spec(_ name: String, image: String, incoming: Bool = false) -> VMSpec {
        VMSpec(name: name, memoryMiB: 64, incoming: incoming, extraArguments: LabGuest.qemuArguments(image: image))
    }

    /// The guest's completed writes, by QEMU's count.
    static func writes(_ machine: QEMUMachine) async throws -> Int64 {
        let devices = try await machine.qmp.execute("query-blockstats").array ?? []
        return devices.compactMap { $0["stats"]?["wr_operations"]?.int }.reduce(0, +)
    }

    /// Waits until the guest has written `count` sectors (boot under TCG takes seconds).
    static func waitForWrites(_ machine: QEMUMachine, atLeast count: Int64, within timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await writes(machine) < count {
            guard ContinuousClock.now < deadline else { throw TetherError(.timeout, "\(machine.name) wrote fewer than \(count) sectors") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func theSequenceIsContinuousAndGrows() async throws {
        try await QEMUTestbed.with { bed in
            let image = bed.path("guest.raw")
            try LabGuest.makeImage(at: image, sizeMiB: 4)
            let vm = try await bed.launch(Self.spec("lg-seq", image: image))
            try await Self.waitForWrites(vm, atLeast: 10)
            let start = ContinuousClock.now
            let before = try await Self.writes(vm)
            try await Task.sleep(for: .seconds(3))
            let after = try await Self.writes(vm)
            let milliseconds = (ContinuousClock.now - start).timeInterval * 1000 / Double(max(1, after - before))
            print("lab guest: \(after - before) writes in 3 s, \(String(format: "%.1f", milliseconds)) ms a write "
                  + "(\(VMSpec.hostAccelerator.rawValue))")
            #expect(after > before)

            try await vm.pause()
            let first = try LabGuestImage.sequence(of: image)
            #expect(first.verdict == .continuous, "\(first.verdict)")
            try await vm.resume()
            try await Self.waitForWrites(vm, atLeast: try await Self.writes(vm) + 20)
            try await vm.pause()
            let second = try LabGuestImage.sequence(of: image)
            #expect(second.verdict == .continuous, "\(second.verdict)")
            #expect((second.maximum ?? 0) > (first.maximum ?? 0))
            #expect(try LabGuestImage.crashRecord(of: image).isEmpty)
        }
    }

    @Test func aLiveMigrationKeepsTheSequence() async throws {
        try await QEMUTestbed.with { bed in
            let image = bed.path("guest.raw")
            try LabGuest.makeImage(at: image, sizeMiB: 4)
            let source = try await bed.launch(Self.spec("lg-src", image: image))
            try await Self.waitForWrites(source, atLeast: 50)
            let target = try await bed.launch(Self.spec("lg-dst", image: image, incoming: true))
            let port = try QEMUTestbed.freePort()
            let result = try await source.migrate(to: target, uri: "tcp:127.0.0.1:\(port)", options: MigrationOptions()) { _ in }
            let moved = try LabGuestImage.sequence(of: image)
            print("lab guest migrated: \(result.totalTimeMs) ms, downtime \(result.downtimeMs) ms, at counter \(moved.maximum ?? 0)")
            // The guest goes on, on the target, from where it was. The image is read rather than
            // QEMU's count: a write in flight when the source stopped is issued again on the target.
            let goal = (moved.maximum ?? 0) + 20
            let deadline = ContinuousClock.now + .seconds(60)
            while (try LabGuestImage.sequence(of: image).maximum ?? 0) < goal, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await target.pause()
            let after = try LabGuestImage.sequence(of: image)
            #expect(after.verdict == .continuous, "\(after.verdict)")
            #expect((after.maximum ?? 0) >= (moved.maximum ?? 0) + 20)
        }
    }

    @Test func anNMIPanicsThenLeavesACompleteCrashRecordAndHalts() async throws {
        try await QEMUTestbed.with { bed in
            let image = bed.path("guest.raw")
            try LabGuest.makeImage(at: image, sizeMiB: 4)
            let vm = try await bed.launch(Self.spec("lg-nmi", image: image))
            try await Self.waitForWrites(vm, atLeast: 30)
            let events = vm.qmp.events()
            try await vm.qmp.execute("inject-nmi")
            let panic = try await events.first(named: "GUEST_PANICKED", within: .seconds(30))
            #expect(panic.data["action"]?.string == "run")
            // The record takes 64 sectors, one every 12 ms of the guest's time; then no more writes.
            let deadline = ContinuousClock.now + .seconds(60)
            var last = try await Self.writes(vm)
            while true {
                try await Task.sleep(for: .seconds(1))
                let now = try await Self.writes(vm)
                if now == last, try LabGuestImage.crashRecord(of: image).isFinished { break }
                guard ContinuousClock.now < deadline else { throw TetherError(.timeout, "the crash record was not finished in 60 s") }
                last = now
            }
            #expect(try await vm.status() == .running, "panic=none: the VM keeps running, its guest halted")
            let record = try LabGuestImage.crashRecord(of: image)
            let sequence = try LabGuestImage.sequence(of: image)
            #expect(record.isComplete, "\(record)")
            #expect(sequence.verdict == .continuous, "\(sequence.verdict)")
            #expect(record.counter == sequence.maximum)
            try await Task.sleep(for: .seconds(1))
            #expect(try await Self.writes(vm) == last, "the guest halted: no more writes")
        }
    }
}
