import Foundation
@testable import Hypervisor
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// Every fault ends in a typed error within its deadline, and (with real QEMU) the source VM
/// keeps running: nothing is lost.
struct QMPFaultTests {
    @Test func aSocketThatClosesMidCommandIsADisconnect() async throws {
        let server = try FakeQMPServer(.closeOnCommand)
        let client = try await QMPClient.connect(socketPath: server.path, timeout: .seconds(5))
        await #expect(throws: QMPError.disconnected("query-status")) {
            try await client.execute("query-status", timeout: .seconds(5))
        }
        await #expect(throws: QMPError.disconnected("query-status"), "and so is every later command") {
            try await client.execute("query-status", timeout: .seconds(5))
        }
    }

    @Test(arguments: ["this is not json", #"["a", "list"]"#, #"{"neither": "return nor error", "id": 2}"#])
    func aMalformedOrUnexpectedReplyIsMalformed(_ reply: String) async throws {
        let server = try FakeQMPServer(.reply(reply))
        let client = try await QMPClient.connect(socketPath: server.path, timeout: .seconds(5))
        await #expect {
            try await client.execute("query-status", timeout: .seconds(5))
        } throws: { error in
            if case QMPError.malformed = error { return true }
            return false
        }
    }

    @Test func aSilentPeerTimesOut() async throws {
        let server = try FakeQMPServer(.silent)
        let client = try await QMPClient.connect(socketPath: server.path, timeout: .seconds(5))
        let start = ContinuousClock.now
        await #expect {
            try await client.execute("query-status", timeout: .milliseconds(300))
        } throws: { error in
            if case QMPError.timeout("query-status", _) = error { return true }
            return false
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func aPeerThatNeverGreetsTimesOut() async throws {
        let server = try FakeQMPServer(.noGreeting)
        await #expect {
            _ = try await QMPClient.connect(socketPath: server.path, timeout: .milliseconds(300))
        } throws: { error in
            if case QMPError.timeout("the QMP greeting", _) = error { return true }
            return false
        }
    }

    /// QEMU re-arms its one-client QMP listener only once it has seen the last client leave;
    /// meanwhile the socket refuses. A connect within its deadline waits that out.
    @Test func aMomentarilyBusySocketIsRetriedNotFailed() async throws {
        let server = try FakeQMPServer(.silent, busyFor: 0.3)
        let start = ContinuousClock.now
        let client = try await QMPClient.connect(socketPath: server.path, timeout: .seconds(5))
        #expect(ContinuousClock.now - start >= .milliseconds(250), "it was refused at first")
        #expect(client.isConnected)
        await client.close()
    }

    @Test func aMissingSocketIsAConnectFailure() async throws {
        await #expect {
            _ = try await QMPClient.connect(socketPath: "/tmp/no-such-qmp.sock", timeout: .seconds(2))
        } throws: { error in
            if case QMPError.connectFailed(path: "/tmp/no-such-qmp.sock", _) = error { return true }
            return false
        }
    }
}

@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct MigrationFaultTests {
    @Test func migratingToAPortNobodyListensOnFailsAndTheSourceRuns() async throws {
        try await QEMUTestbed.with { bed in
            let source = try await bed.launch(VMSpec(name: "src", memoryMiB: 64))
            let target = try await bed.launch(VMSpec(name: "dst", memoryMiB: 64, incoming: true))
            let nobody = try QEMUTestbed.freePort()
            // The target listens where told; the source is sent elsewhere, where no one listens.
            try await target.prepareIncoming(uri: "tcp:127.0.0.1:\(try QEMUTestbed.freePort())")
            try await source.qmp.execute("migrate", ["uri": .string("tcp:127.0.0.1:\(nobody)")])
            await #expect {
                _ = try await source.follow(start: .now, timeout: .seconds(30)) { _ in }
            } throws: { error in
                (error as? TetherError)?.message.contains("failed") == true
            }
            #expect(try await source.status() == .running)
        }
    }

    /// A migration held at 8 MB/s with 64 MiB of pattern to move: seconds long, so a test can
    /// act on it mid-way. Returns once QEMU reports it active.
    func slowMigration(_ bed: QEMUTestbed) async throws -> (QEMUMachine, QEMUMachine, Task<MigrationResult, any Error>) {
        _ = try bed.pattern("fill.bin", size: 64 << 20, seed: 3)
        let source = try await bed.launch(VMSpec(name: "src", memoryMiB: 256, memoryImages: [(bed.path("fill.bin"), 0x100_0000)]))
        let target = try await bed.launch(VMSpec(name: "dst", memoryMiB: 256, incoming: true))
        let port = try QEMUTestbed.freePort()
        let migration = Task {
            try await source.migrate(to: target, uri: "tcp:127.0.0.1:\(port)",
                                     options: MigrationOptions(maxBandwidthBytesPerSecond: 8 << 20, timeout: .seconds(60))) { _ in }
        }
        var active = false
        for _ in 0..<500 where !active {
            try await Task.sleep(for: .milliseconds(20))
            active = (try? await source.qmp.execute("query-migrate"))?["status"]?.string == "active"
        }
        #expect(active)
        return (source, target, migration)
    }

    @Test func killingTheTargetMidMigrationFailsItAndTheSourceRuns() async throws {
        try await QEMUTestbed.with { bed in
            let (source, target, migration) = try await slowMigration(bed)
            await target.kill()
            let outcome = await migration.result
            #expect(throws: TetherError.self) { try outcome.get() }
            #expect(try await source.status() == .running, "the source keeps running: nothing lost")
        }
    }

    @Test func aCancelledMigrationEndsCancelledAndTheSourceRuns() async throws {
        try await QEMUTestbed.with { bed in
            let (source, _, migration) = try await slowMigration(bed)
            try await source.cancelMigration()
            await #expect {
                try await migration.value
            } throws: { error in
                (error as? TetherError)?.message.contains("cancelled") == true
            }
            #expect(try await source.status() == .running)
        }
    }
}

/// A migration that fails at the switch-over: QEMU 7.2 reports the failure while the source is
/// still in `finish-migrate`, and puts it back (running, or `postmigrate` if it was paused) a
/// moment later. The driver waits that out instead of asking the run state before every
/// migration. QEMU will not fail at the switch-over on demand: a scripted peer plays it.
struct SwitchOverFailureTests {
    static func status(_ state: String) -> String { #"{"return": {"status": "\#(state)", "running": false}, "id": ID}"# }
    static let name = #"{"return": {"name": "src"}, "id": ID}"#

    @Test func theSourceIsWaitedForUntilItLeavesTheSwitchOver() async throws {
        let server = try FakeQMPServer(.script([Self.name] + Array(repeating: Self.status("finish-migrate"), count: 3) + [Self.status("running")]))
        let machine = try await QEMUMachine.adopt(socketPath: server.path, timeout: .seconds(5))
        await machine.waitWhileSwitchingOver(within: .seconds(5))
        #expect(server.commands == ["query-name"] + Array(repeating: "query-status", count: 4), "asked until it was running again")
    }

    @Test func aSourceThatNeverSwitchedOverIsAskedOnce() async throws {
        let server = try FakeQMPServer(.script([Self.name, Self.status("running"), Self.status("running")]))
        let machine = try await QEMUMachine.adopt(socketPath: server.path, timeout: .seconds(5))
        await machine.waitWhileSwitchingOver(within: .seconds(5))
        #expect(server.commands == ["query-name", "query-status"])
    }

    @Test func aSourceStuckInTheSwitchOverIsWaitedForOnlyToTheLimit() async throws {
        let server = try FakeQMPServer(.script([Self.name] + Array(repeating: Self.status("finish-migrate"), count: 500)))
        let machine = try await QEMUMachine.adopt(socketPath: server.path, timeout: .seconds(5))
        let start = ContinuousClock.now
        await machine.waitWhileSwitchingOver(within: .milliseconds(300))
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(server.commands.count > 2)
    }
}
