import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// A VM disk on shared NBD storage, reached over two paths, in network namespaces with real
/// links, a real storage server and a guest that writes a counter sequence to its disk. The
/// figures (link down to BLOCK_IO_ERROR, switch durations) are printed as `measured:` lines.
@Suite(.serialized, .requires(StorageLab.canRun, "needs root, iproute2, qemu-system-x86 and qemu-storage-daemon (qemu-system-common)"))
struct NetworkDiskTests {
    /// Long enough for SeaBIOS on a loaded two-core machine (TCG, or KVM under parallel builds).
    static let bootTimeout: Duration = .seconds(120)

    @Test func aPlannedSwitchWhileRunningMovesTheDiskAndLosesNoWrite() async throws {
        try await StorageLab.with(bootSector: CounterGuest.bootSector) { lab, _, bed, image in
            let vm = try await bed.launch(try lab.spec())
            #expect(try await vm.diskPath() == lab.paths[0])
            let before = try await CounterGuest.waitForProgress(image, past: 100, timeout: Self.bootTimeout)

            let there = try await vm.switchDiskPath(to: lab.paths[1])
            print("measured: planned switch \(lab.paths[0]) -> \(lab.paths[1]): pivot \(there.pivotMs) ms, "
                  + "total \(there.totalMs) ms, paused \(there.pausedMs) ms")
            #expect(there.from == lab.paths[0] && there.stateBefore == .running && there.stateAfter == .running)
            #expect(try await vm.diskPath() == lab.paths[1])
            let middle = try await CounterGuest.waitForProgress(image, past: before + 100, timeout: .seconds(30))

            // And back: node names of a third generation, the first path again.
            let back = try await vm.switchDiskPath(to: lab.paths[0])
            print("measured: planned switch back: pivot \(back.pivotMs) ms, total \(back.totalMs) ms, paused \(back.pausedMs) ms")
            #expect(try await vm.diskPath() == lab.paths[0])
            _ = try await CounterGuest.waitForProgress(image, past: middle + 100, timeout: .seconds(30))
            #expect(try await Self.diskNodes(vm) == ["disk0-fmt2", "disk0-nbd2"], "the replaced nodes are gone")
            let breaks = try CounterGuest.settled(image).breaks
            #expect(breaks == [], "sectors out of sequence: \(breaks.prefix(20))")
            #expect(try await vm.status() == .running)
        }
    }

    @Test func aDeadLinkStopsTheVMAndASwitchToTheOtherPathResumesItWhereItWas() async throws {
        try await StorageLab.with(bootSector: CounterGuest.bootSector) { lab, _, bed, image in
            let vm = try await bed.launch(try lab.spec())
            let resets = vm.qmp.events { ["RESET", "SHUTDOWN", "GUEST_PANICKED"].contains($0.name) ? $0.name : nil }
            let before = try await CounterGuest.waitForProgress(image, past: 100, timeout: Self.bootTimeout)

            let errors = vm.diskIOErrors()
            let cut = ContinuousClock.now
            try lab.ip(["-n", lab.host, "link", "set", lab.hostLink(0), "down"])
            let error = try await Self.first(errors, within: .seconds(30))
            let detection = ContinuousClock.now - cut
            print("measured: link down -> BLOCK_IO_ERROR \(detection) (tcp_retries2=2): \(error)")
            #expect(error.action == "stop" && error.node == "disk0-fmt0")
            #expect(detection < .seconds(5))
            try await vm.waitForStatus(.ioError, timeout: .seconds(5))
            let held = try CounterGuest.read(image).highest

            let moved = try await vm.switchDiskPath(to: lab.paths[1])
            print("measured: switch after the failure: pivot \(moved.pivotMs) ms, total \(moved.totalMs) ms, paused \(moved.pausedMs) ms, "
                  + "\(moved.resumeAttempts) cont(s)")
            #expect(moved.stateBefore == .ioError && moved.stateAfter == .running && moved.resumeAttempts >= 1)
            #expect(try await vm.diskPath() == lab.paths[1])

            let after = try await CounterGuest.waitForProgress(image, past: held + 300, timeout: .seconds(30))
            let written = try CounterGuest.settled(image)
            #expect(written.breaks == [],
                    "the write held at the failure was issued again; no counter is missing: \(written.breaks.prefix(20))")
            #expect(after > before && written.highest >= after)
            try await vm.quit()
            var seen: [String] = []
            for await name in resets where name != "SHUTDOWN" { seen.append(name) }
            #expect(seen == [], "the guest never restarted")
        }
    }

    /// The server acknowledged a write, then lost the link before its reply went out, and gave
    /// up on the connection (its retries): nothing is left for the host's TCP to retransmit.
    /// Without keep-alive the write waits forever, and so does a `stop`, which drains it, with
    /// QMP held: a storage failover hung in the lab this way. With the hosts' keep-alive
    /// (StorageTimeouts) the connection is found dead and the write fails into `io-error`.
    @Test func aWriteWhoseReplyWasLostWithTheLinkFailsRatherThanHoldingTheVM() async throws {
        try await StorageLab.with(bootSector: CounterGuest.bootSector) { lab, server, bed, image in
            var spec = try lab.spec(paths: [lab.paths[0]])
            spec.name = "nd-lost-\(lab.tag)"
            let vm = try await bed.launch(spec)
            _ = try await CounterGuest.waitForProgress(image, past: 100, timeout: Self.bootTimeout)
            let errors = vm.diskIOErrors()
            // Stalled, the server's kernel acknowledges the guest's next write; nothing replies.
            await server.suspend()
            try await Task.sleep(for: .milliseconds(300))
            let stop = Task { try await vm.qmp.execute("stop", timeout: .seconds(60)) }
            try await Task.sleep(for: .milliseconds(300))
            try lab.ip(["-n", lab.storage, "link", "set", lab.storageLink(0), "down"])
            await server.resume()
            // The reply is retransmitted into the dead link until the server gives up (1.4 s).
            try await Task.sleep(for: .seconds(4))
            try lab.ip(["-n", lab.storage, "link", "set", lab.storageLink(0), "up"])
            let error = try await Self.first(errors, within: .seconds(30))
            _ = try await stop.value
            #expect(error.action == "stop" && error.node.hasPrefix("disk0-fmt"), "\(error)")
            #expect([.ioError, .paused].contains(try await vm.status()))
            try await vm.quit()
        }
    }

    @Test func aPathThatDoesNotAnswerIsRefusedAndTheDiskStaysAsItWas() async throws {
        try await StorageLab.with(bootSector: CounterGuest.bootSector) { lab, _, bed, image in
            // The first path is dead at launch: the VM opens its disk on the second.
            try lab.ip(["-n", lab.storage, "link", "set", lab.storageLink(0), "down"])
            let vm = try await bed.launch(try lab.spec())
            #expect(try await vm.diskPath() == lab.paths[1])
            let before = try await CounterGuest.waitForProgress(image, past: 50, timeout: Self.bootTimeout)
            let nodes = try await Self.diskNodes(vm)

            // Packets to it vanish (its link is down on the far side, the neighbour is known).
            try lab.ip(["-n", lab.host, "neigh", "replace", "10.91.1.1", "lladdr", "02:00:00:00:00:01", "dev", lab.hostLink(0),
                        "nud", "permanent"])
            for (target, code) in [(lab.paths[0], TetherError.Code.timeout), (NBDPath(host: "10.91.2.1", port: 10999), .io)] {
                let start = ContinuousClock.now
                await #expect {
                    try await vm.switchDiskPath(to: target)
                } throws: { error in
                    print("measured: refused switch to \(target) in \(ContinuousClock.now - start): \(error)")
                    guard let error = error as? TetherError else { return false }
                    return error.code == code && error.message.contains("stays on \(lab.paths[1])")
                }
                #expect(ContinuousClock.now - start < .seconds(4))
                #expect(try await vm.diskPath() == lab.paths[1])
                #expect(try await Self.diskNodes(vm) == nodes)
                #expect(try await vm.status() == .running)
            }
            _ = try await CounterGuest.waitForProgress(image, past: before + 100, timeout: .seconds(30))
            let breaks = try CounterGuest.settled(image).breaks
            #expect(breaks == [], "sectors out of sequence: \(breaks.prefix(20))")
        }
    }

    /// Fencing at the storage: removing the VM's export drops its connection at once; served
    /// again, the disk comes back through a switch onto the same path (a fresh connection).
    @Test func removingTheExportCutsTheVMOffUntilItReopensItsPath() async throws {
        try await StorageLab.with(bootSector: CounterGuest.bootSector) { lab, server, bed, image in
            let vm = try await bed.launch(try lab.spec())
            _ = try await CounterGuest.waitForProgress(image, past: 100, timeout: Self.bootTimeout)
            let errors = vm.diskIOErrors()
            let cut = ContinuousClock.now
            try await server.removeExport(named: "vm-1")
            _ = try await Self.first(errors, within: .seconds(10))
            print("measured: export removed -> BLOCK_IO_ERROR \(ContinuousClock.now - cut)")
            #expect(try await server.exportNames() == [StorageServer.heartbeatExport])
            try await vm.waitForStatus(.ioError, timeout: .seconds(5))
            let held = try CounterGuest.read(image).highest
            try await Task.sleep(for: .milliseconds(500))
            #expect(try CounterGuest.read(image).highest == held, "nothing reaches the image while the export is gone")

            try await server.addExport(.init(name: "vm-1", image: image))
            let reopened = try await vm.switchDiskPath(to: lab.paths[0])
            #expect(reopened.from == lab.paths[0] && reopened.stateAfter == .running)
            _ = try await CounterGuest.waitForProgress(image, past: held + 100, timeout: .seconds(30))
            let breaks = try CounterGuest.settled(image).breaks
            #expect(breaks == [], "sectors out of sequence: \(breaks.prefix(20))")
        }
    }

    static func first(_ errors: AsyncStream<DiskIOError>, within timeout: Duration) async throws -> DiskIOError {
        try await withThrowingTaskGroup(of: DiskIOError?.self) { group in
            group.addTask {
                for await error in errors { return error }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let error = first else {
                throw TetherError(.timeout, "no BLOCK_IO_ERROR within \(timeout)")
            }
            return error
        }
    }

    /// The disk's block nodes (the generation-named ones), sorted.
    static func diskNodes(_ vm: QEMUMachine) async throws -> [String] {
        let nodes = try await vm.qmp.execute("query-named-block-nodes", ["flat": true]).array ?? []
        return nodes.compactMap { $0["node-name"]?.string }.filter { $0.hasPrefix("disk0-") }.sorted()
    }
}
