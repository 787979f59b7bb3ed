import Foundation
import Lab
import TetherModel
import TetherSystem
import TetherTestKit
import TetherTestSupport
import Testing

/// One lab for every fault test of a suite (CI's time: bringing a lab up and down costs seconds,
/// each fault only a few): `tether lab up` before the suite's first test, `tether lab down`
/// after its last, whatever happened between.
struct SharedLab: SuiteTrait, TestScoping {
    static let directory = "/tmp/tether-lab-tests"
    static var layout: LabLayout { (try? LabLayout(directory: directory)) ?? { fatalError("a valid lab directory") }() }

    static var canRun: Bool {
        getuid() == 0 && QEMUTestbed.isAvailable && Tools.which("ip") != nil && Tools.which("qemu-storage-daemon") != nil
            && FileManager.default.isExecutableFile(atPath: Tools.product("tetherd"))
    }

    var isRecursive: Bool { false }
    /// More arguments for `tether lab up`.
    var upArguments: [String] = []

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        _ = try? await ProcessRunner.run(Tools.product("tether"), ["lab", "down", "--dir", Self.directory], timeout: 60)
        let up = try await ProcessRunner.run(Tools.product("tether"), ["lab", "up", "--dir", Self.directory] + upArguments, timeout: 180)
        guard up.status == 0 else {
            Issue.record("tether lab up failed: \(up.stdout)\(up.stderr)")
            return
        }
        defer {
            _ = try? ChildProcess.run(Tools.product("tether"), ["lab", "down", "--dir", Self.directory, "--keep-files"])
            Self.keepLogs(of: test.name)
        }
        try await function()
    }

    /// Where each suite's lab logs are kept: the next suite's lab starts afresh in the same
    /// directory, and `scripts/test` prints these when a run fails.
    static let logsDirectory = "/tmp/tether-lab-logs"

    static func keepLogs(of suite: String) {
        let kept = "\(logsDirectory)/\(suite.filter { $0.isLetter || $0.isNumber })"
        try? FileManager.default.removeItem(atPath: kept)
        try? FileManager.default.createDirectory(atPath: logsDirectory, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: "\(directory)/log", toPath: kept)
    }

    /// `tether status --json` of the lab.
    static func status() async throws -> ClusterStatus {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["status", "--json", "--socket", layout.controllerSocket], timeout: 20)
        guard result.status == 0 else { throw TetherError(.io, "tether status: \(result.stderr)") }
        return try APIJSON.decoder().decode(ClusterStatus.self, from: Data(result.stdout.utf8))
    }

    /// Polls the status until `check` holds; returns the time it took, or throws with the last status.
    @discardableResult
    static func waitFor(_ what: String, within timeout: Duration = .seconds(20),
                        _ check: (ClusterStatus) -> Bool) async throws -> Duration {
        let start = ContinuousClock.now
        var last: ClusterStatus?
        while ContinuousClock.now - start < timeout {
            if let status = try? await status() {
                last = status
                if check(status) { return ContinuousClock.now - start }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let hosts = last?.hosts.map { h in
            "\(h.name) \(h.condition.verdict.rawValue) " + h.networks.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value.state.rawValue)" }
                .joined(separator: ",")
        } ?? []
        let vms = last?.vms.map { "\($0.name)@\($0.host) \($0.state)" } ?? []
        throw TetherError(.timeout, "not within \(timeout): \(what); last: \(hosts.joined(separator: "; ")); VMs: \(vms.joined(separator: ", "))")
    }

    static func ip(_ arguments: [String]) async throws {
        let result = try await ProcessRunner.run("/usr/bin/env", ["ip"] + arguments, timeout: 20)
        guard result.status == 0 else { throw TetherError(.io, "ip \(arguments.joined(separator: " ")): \(result.stderr)") }
    }

    /// `tether lab restart NAME [--kill-at STEP:PHASE]`: the daemon killed if it runs, started again.
    static func restart(_ name: String, killAt: String? = nil) async throws {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["lab", "restart", name, "--dir", directory]
                                                     + (killAt.map { ["--kill-at", $0] } ?? []), timeout: 30)
        guard result.status == 0 else { throw TetherError(.io, "tether lab restart \(name): \(result.stdout)\(result.stderr)") }
    }

    /// Waits until the lab daemon `name` (its pid file's process) is gone.
    static func waitForDeath(of name: String, within timeout: Duration = .seconds(40)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let text = try? String(contentsOfFile: layout.pidFile(name), encoding: .utf8),
                  let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 else { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TetherError(.timeout, "\(name) did not die within \(timeout)")
    }

    static func link(_ host: String, _ interface: String, up: Bool) async throws {
        try await ip(["-n", LabLayout.namespace(of: host), "link", "set", interface, up ? "up" : "down"])
    }
}

extension Trait where Self == SharedLab {
    static var sharedLab: SharedLab { SharedLab() }
    /// A lab whose agents do not report their own faults: the controller's outside view alone.
    static var sharedLabWithoutSelfTrigger: SharedLab { SharedLab(upArguments: ["--no-self-trigger"]) }
}
