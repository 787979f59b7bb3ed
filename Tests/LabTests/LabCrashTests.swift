import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// The crash flow in the lab: `tether lab crash` injects an NMI, the lab guest signals a panic
/// (pvpanic, action none) and then writes its crash record to sectors 4096 to 4159, about one
/// sector every 10 ms, the first one last. Tether must wait for it to finish, copy the region to
/// the host's crash directory, and restart the guest on its host; a guest that crashes again and
/// again is held back.
extension LabFailoverTests {
    @Test func aCrashedGuestHasItsCrashRecordKeptAndRunsAgainUntilItCrashesTooOften() async throws {
        let vm = "vm-c"
        let host = try await LabFailover.hostOf(vm)
        let before = try await LabProbe.sequence(of: vm, atLeast: 50)
        let crashDirectory = SharedLab.layout.crashDirectory(host)
        let folders = Set((try? FileManager.default.contentsOfDirectory(atPath: crashDirectory)) ?? [])
        var firstEvent = try await LabProbe.events().last?.sequence ?? 0

        try await crash(vm)
        let restarted = try await waitForEvent(after: firstEvent) { $0.kind == .operation && $0.to == "restart done" }
        let events = try await LabProbe.events().filter { $0.sequence > firstEvent }
        let fault = events.first { $0.kind == .fault && $0.subject == "crash" }
        #expect(fault?.host == host && fault?.from == "self" && fault?.to == "failover", "\(String(describing: fault))")
        let collected = events.first { $0.kind == .operation && $0.to == "collect-crash done" }
        #expect(collected?.detail.first?.contains("64 sectors of crash files") == true, "\(String(describing: collected))")
        print("crash of \(vm) on \(host): collected and restarted (\(restarted.detail.joined()))")

        let new = Set(try FileManager.default.contentsOfDirectory(atPath: crashDirectory)).subtracting(folders)
        let folder = try #require(new.first { $0.hasPrefix("\(vm)-") }, "a crash folder for \(vm) in \(crashDirectory): \(new)")
        let copy = "\(crashDirectory)/\(folder)/crash-region.bin"
        let record = try LabGuestImage.crashRecord(inRegion: [UInt8](try Data(contentsOf: URL(fileURLWithPath: copy))), from: copy)
        #expect(record.isComplete, "the whole record, its first sector (written last) included: \(record)")
        #expect((record.counter ?? 0) >= (before.maximum ?? 0), "the record holds the counter at the crash: \(String(describing: record.counter))")
        #expect(FileManager.default.fileExists(atPath: "\(crashDirectory)/\(folder)/crash.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(crashDirectory)/\(folder)/memory.elf"), "the guest wrote its record: no memory dump")
        #expect(try await writesAgain(vm), "the restarted guest writes again")
        let status = try await SharedLab.status()
        #expect(status.vms.first { $0.name == vm }.map { $0.host == host && $0.state == "running" } == true)

        // Restarted up to the limit (3 within the window), then held back.
        for _ in 0..<2 {
            firstEvent = try await LabProbe.events().last?.sequence ?? 0
            try await crash(vm)
            _ = try await waitForEvent(after: firstEvent) { $0.kind == .operation && $0.to == "restart done" }
            #expect(try await writesAgain(vm), "the restarted guest writes again")
        }
        firstEvent = try await LabProbe.events().last?.sequence ?? 0
        try await crash(vm)
        let held = try await waitForEvent(after: firstEvent) { $0.kind == .fault && $0.subject == "crash" }
        #expect(held.to == "held back", "the fourth crash within the window: \(held)")
        #expect(held.detail.contains { $0.contains("held back") }, "\(held.detail)")
        try await Task.sleep(for: .seconds(1))
        #expect(!(try await writesMove(vm)), "a guest held back stays as it crashed")
        #expect(try await SharedLab.status().vms.first { $0.name == vm }?.state == "crashed")

        // The operator restarts it (the lab's other tests want it running).
        let monitor = try #require(try await SharedLab.status().vms.first { $0.name == vm }?.monitor)
        let machine = try await QEMUMachine.adopt(socketPath: monitor, name: vm)
        try await machine.reset()
        await machine.qmp.close()
        try await SharedLab.waitFor("\(vm) running again after the operator's reset") { status in
            status.vms.first { $0.name == vm }?.state == "running"
        }
    }

    private func crash(_ vm: String) async throws {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["lab", "crash", vm, "--dir", SharedLab.directory], timeout: 20)
        guard result.status == 0 else { throw TetherError(.io, "tether lab crash: \(result.stderr)") }
    }

    private func waitForEvent(after sequence: Int, within timeout: Duration = .seconds(30),
                              _ matches: (ClusterEvent) -> Bool) async throws -> ClusterEvent {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let event = try await LabProbe.events().first(where: { $0.sequence > sequence && matches($0) }) { return event }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TetherError(.timeout, "no such event within \(timeout): \(try await LabProbe.events().filter { $0.sequence > sequence })")
    }

    /// Whether the guest writes again within 40 s (a reset guest boots first: SeaBIOS takes
    /// about 15 s before it reads the boot sector here; an NMI before the loop runs would not
    /// crash it).
    func writesAgain(_ vm: String) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(40)
        while ContinuousClock.now < deadline {
            if try await writesMove(vm) { return true }
        }
        return false
    }

    /// Whether the guest's completed writes grow over half a second (read over its operator monitor).
    private func writesMove(_ vm: String) async throws -> Bool {
        let monitor = try #require(try await SharedLab.status().vms.first { $0.name == vm }?.monitor)
        let machine = try await QEMUMachine.adopt(socketPath: monitor, name: vm)
        defer { Task { await machine.qmp.close() } }
        let first = try await machine.writeOperations()
        try await Task.sleep(for: .milliseconds(500))
        return try await machine.writeOperations() > first
    }
}
