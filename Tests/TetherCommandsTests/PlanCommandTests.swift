import Foundation
import Testing
import TetherTestSupport

/// `tether plan` as operators and the policy tests run it: the built binary on cluster files.
struct PlanCommandTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples")

    func plan(_ arguments: [String]) async throws -> ProcessResult {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["plan"] + arguments, timeout: 60)
        try #require(!result.timedOut, "tether plan hung")
        return result
    }

    func json(_ arguments: [String]) async throws -> [String: Any] {
        let result = try await plan(arguments + ["--json"])
        try #require(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func sample(_ name: String) -> String { Self.samples.appendingPathComponent(name).path }

    @Test func theWebcamMigratesItsVMWithTheSpecsFigures() async throws {
        let answer = try await json(["--cluster", sample("edge-site.yaml"), "--attach", "cam-1=host-b/1-3"])
        #expect(answer["action"] as? String == "migrate")
        #expect(answer["vm"] as? String == "vision")
        #expect(answer["targetHost"] as? String == "host-b")
        #expect(answer["device"] as? String == "host-b/1-3")
        #expect(answer["requiredBitsPerSecond"] as? Int == 197_416_000)
        #expect(answer["allocatedBitsPerSecond"] as? Int == 100_000_000)
        #expect((answer["reasons"] as? [String])?.first == "device needs 197.4 Mbit/s, 197% of the VM's 100 Mbit/s (threshold 50%)")
    }

    @Test func theSerialDongleIsForwarded() async throws {
        let answer = try await json(["--cluster", sample("edge-site.yaml"), "--attach", "zigbee-1=host-b/1-4"])
        #expect(answer["action"] as? String == "forward")
        #expect(answer["targetHost"] == nil)
    }

    @Test(arguments: [("lab-1", "restart", nil), ("lab-1:storage", "suspend-resume", "migration"),
                      ("lab-2:management", "live", "migration"), ("lab-2:migration,vm", "live", "management")] as [(String, String, String?)])
    func labFailoversMoveEveryVMTheSpecsWay(_ fail: String, _ mode: String, _ via: String?) async throws {
        let answer = try await json(["--cluster", sample("lab.yaml"), "--fail", fail])
        let moves = try #require(answer["moves"] as? [[String: Any]])
        let unplaced = try #require(answer["unplaced"] as? [[String: Any]])
        #expect(moves.count + unplaced.count == 3, "lab-1 and lab-2 each run three VMs")
        for move in moves {
            #expect(move["mode"] as? String == mode)
            #expect(move["via"] as? String == via)
            #expect(move["from"] as? String == String(fail.prefix(5)))
            #expect(move["targetHost"] as? String != String(fail.prefix(5)))
            #expect(((move["reasons"] as? [String]) ?? []).count >= 2)
        }
    }

    @Test func theLargeSampleIsPlannedQuickly() async throws {
        let answer = try await json(["--cluster", sample("large-generated.yaml"), "--fail", "host-0000"])
        #expect(((answer["moves"] as? [Any]) ?? []).count == 10)
    }

    @Test func theExplanationSaysWhatAndWhy() async throws {
        let result = try await plan(["--cluster", sample("edge-site.yaml"), "--fail", "host-a:management"])
        #expect(result.status == 0)
        #expect(result.stdout == """
            Failover: host-a lost its management network: 2 moves, 0 unplaced

            vision: host-a -> host-b (live over migration)
              - host-a lost its management network: live-migrate vision over the migration network
              - host-b chosen: 28672 MiB free after the move
              - host-a: it is the failed host

            home: host-a -> host-b (live over migration)
              - host-a lost its management network: live-migrate home over the migration network
              - host-b chosen: 26624 MiB free after the move
              - host-a: it is the failed host

            """)
    }

    @Test func anInvalidFileExitsTwoNamingTheProblem() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.yaml")
        try "hosts:\n  - {name: h, cpus: -1, memoryMiB: 1}\nvms: []\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try await plan(["--cluster", file.path, "--fail", "h"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty, "nothing is planned from a file that does not validate")
        #expect(result.stderr.contains("line 2: host 'h': cpus must not be negative (it is -1)"))
    }

    @Test(arguments: [(["--attach", "nobody=host-b/1-3"], "no VM runs container 'nobody'"),
                      (["--attach", "cam-1"], "write CONTAINER=HOST/DEVICE_ID"),
                      (["--fail", "host-q"], "neither a host nor a VM")])
    func questionsAboutNothingExitTwo(_ arguments: [String], _ message: String) async throws {
        let result = try await plan(["--cluster", sample("edge-site.yaml")] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func aMissingFileAndAMissingQuestionAreClear() async throws {
        let missing = try await plan(["--cluster", "/nonexistent.yaml", "--fail", "h"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot read the cluster file /nonexistent.yaml"))
        let noQuestion = try await plan(["--cluster", sample("edge-site.yaml")])
        #expect(noQuestion.status == 64)
        #expect(noQuestion.stderr.contains("give exactly one of --attach"))
    }
}
