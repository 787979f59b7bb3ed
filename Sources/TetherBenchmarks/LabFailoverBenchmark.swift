import ArgumentParser
import Foundation
import Hypervisor
import Lab
import TetherClient
import TetherModel
import TetherSystem
import TetherTestSupport

/// The failover flows timed in a real lab (`tether lab up`, default settings, 256 MiB guests),
/// `--runs` faults of each kind injected from outside as the lab tests inject them:
/// - detection: from the fault to the failover's first journaled step (the decision made), as
///   seen polling the events every 20 ms (a host that lost management journals its own moves:
///   read from the journal handed over);
/// - running again: from the fault to the VM running on its new host (`tether status`), or for
///   a crash to its restart journaled (the guest's record written, collected, the VM reset);
/// - guest writes paused: the longest time the VM's writes stopped reaching the datastore
///   (`GuestWriteGaps`: the guest's counter on its image, read every 10 ms); not for a crash or
///   a dead host, whose guest starts over;
/// - bytes moved: what the migration carried (the journal's migration report);
/// - each journaled step's median time (started to done), to show where the time goes.
/// Each fault is healed and the cluster left to settle before the next. Needs root and a
/// built tether beside this benchmark.
struct LabFailoverBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lab-failover",
                                                    abstract: "Fault to detection and to the VM running again, per fault kind, in a real lab (root).")

    @Option(help: "Faults of each kind (crashes: at most 3 per VM, 9 with the lab's 3 VMs, or the crash limit holds them back).") var runs = 10
    @Option(help: "Comma-separated: storage, management, migration-vm, io-paths, crash, host.") var kinds = "storage,management,migration-vm,io-paths,crash,host"
    @Option(help: "The lab's directory.") var dir = "/tmp/tether-lab-benchmark"
    @Option(help: "Where to copy the lab's logs before it goes down (they go with it otherwise).") var keepLogs: String?

    struct Sample {
        var detection: Double?
        var running: Double
        var writesPaused: Double?
        var bytes: Int64?
        /// Each step's time, started to done, in the order journaled.
        var steps: [(String, Double)] = []
    }

    func run() async throws {
        let tether = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tether").path
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: tether) else { throw ValidationError("needs root and tether beside this benchmark") }
        let wanted = try kinds.split(separator: ",").map { word in
            guard let kind = FaultKind(rawValue: String(word)), [.storage, .management, .migrationAndVM, .ioPaths, .crash, .host].contains(kind) else {
                throw ValidationError("unknown or unsupported fault kind '\(word)'")
            }
            return kind
        }
        _ = try? await ProcessRunner.run(tether, ["lab", "down", "--dir", dir], timeout: 60)
        let up = try await ProcessRunner.run(tether, ["lab", "up", "--dir", dir], timeout: 180)
        guard up.status == 0 else { throw ValidationError("tether lab up: \(up.stdout)\(up.stderr)") }
        defer {
            if let keepLogs {
                try? FileManager.default.removeItem(atPath: keepLogs)
                try? FileManager.default.copyItem(atPath: "\(dir)/log", toPath: keepLogs)
            }
            _ = try? ChildProcess.run(tether, ["lab", "down", "--dir", dir])
        }
        let writes = GuestWriteGaps()
        let lab = LabFaults(tether: tether, dir: dir, client: ControllerClient(APIClient(.unixSocket("\(dir)/ctl/tetherd.sock"))), writes: writes)
        do {
            try await measure(wanted, lab)
        } catch {
            await lab.client.api.close()
            throw error
        }
        await lab.client.api.close()
    }

    private func measure(_ wanted: [FaultKind], _ lab: LabFaults) async throws {
        try await lab.settled()

        say("fault            detection (median/worst)   running again (median/worst)   writes paused (median/worst)   bytes moved (median)   \(runs) runs each")
        for kind in wanted {
            var samples: [Sample] = []
            for run in 0..<runs {
                do {
                    samples.append(try await lab.measure(kind, run: run))
                } catch {
                    say("  \(kind.rawValue) run \(run + 1): \(error)")
                    try? await lab.settled()
                }
            }
            say(Self.row(kind, samples))
            say(Self.steps(samples))
        }
    }

    /// Unbuffered: each row as it is measured, into a file too.
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// `  steps: prepare-incoming 0.31 s, evacuate 1.20 s, ...` (medians).
    static func steps(_ samples: [Sample]) -> String {
        var order: [String] = []
        var times: [String: [Double]] = [:]
        for sample in samples {
            for (step, seconds) in sample.steps {
                if times[step] == nil { order.append(step) }
                times[step, default: []].append(seconds)
            }
        }
        return "  steps (median): " + order.map { step in
            let sorted = (times[step] ?? []).sorted()
            return String(format: "%@ %.2f s", step, sorted[sorted.count / 2])
        }.joined(separator: ", ")
    }

    static func row(_ kind: FaultKind, _ samples: [Sample]) -> String {
        func stats(_ values: [Double]) -> String {
            let sorted = values.sorted()
            guard let worst = sorted.last else { return "        -" }
            return String(format: "%6.2f s / %6.2f s", sorted[sorted.count / 2], worst)
        }
        let bytes = samples.compactMap(\.bytes).sorted()
        return kind.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0) + " " + stats(samples.compactMap(\.detection)) + "        "
            + stats(samples.map(\.running)) + "        " + stats(samples.compactMap(\.writesPaused)) + "            " + (bytes.isEmpty ? "-" : String(format: "%.1f MiB", Double(bytes[bytes.count / 2]) / 1_048_576))
            + "   (\(samples.count) ok)"
    }
}

/// The faults the benchmark injects and heals, and what it reads of the controller.
struct LabFaults {
    let tether: String
    let dir: String
    let client: ControllerClient
    let writes: GuestWriteGaps

    func measure(_ kind: FaultKind, run: Int) async throws -> LabFailoverBenchmark.Sample {
        let status = try await client.status()
        let candidates = status.vms.filter { $0.state == "running" }.sorted { $0.name < $1.name }
        // Crashes go round the VMs: a guest that crashed 3 times within the hour is held back.
        let chosen = kind == .crash ? (candidates.isEmpty ? nil : candidates[run % candidates.count])
            : candidates.first { $0.host == "host-b" } ?? candidates.first
        guard let vm = chosen else { throw ValidationError("no VM runs") }
        if kind == .crash { try await guestWrites(vm) }
        let after = try await latestEvent()
        let links: [String] = switch kind {
        case .storage: ["st0", "st1"]
        case .management: ["mgmt0"]
        case .migrationAndVM: ["mig0", "vm0"]
        case .host: ["mgmt0", "mig0", "vm0", "st0", "st1"]
        default: []
        }
        // Timed on this clock, as seen by polling every 20 ms.
        let firstStep: (ClusterEvent) -> Bool = { $0.kind == .operation && $0.to.hasSuffix(" started") && $0.from == "failover" }
        try await writes.start(image: "\(dir)/storage/\(vm.name).raw")
        try await Task.sleep(for: .milliseconds(200))   // the writes' pace before the fault
        let start = Date()
        if kind == .crash {
            let crash = try await ProcessRunner.run(tether, ["lab", "crash", vm.name, "--dir", dir], timeout: 20)
            guard crash.status == 0 else { throw ValidationError("tether lab crash: \(crash.stderr)") }
        } else if kind == .ioPaths {
            try IOPathFault.cut(vm.name, on: vm.host, directory: dir)
        } else {
            for link in links { try await ip(vm.host, link, up: false) }
        }
        var detected: Double?
        var running: Double?
        let deadline = start.addingTimeInterval(60)
        while running == nil || (detected == nil && kind != .management), Date() < deadline {
            let events = try await client.events(after: after).events
            let now = Date().timeIntervalSince(start)
            if detected == nil, events.contains(where: firstStep) { detected = now }
            if running == nil {
                if kind == .crash {
                    if events.contains(where: { $0.kind == .operation && $0.to == "restart done" }) { running = now }
                } else if try await client.status().vms.contains(where: { $0.name == vm.name && $0.host != vm.host && $0.state == "running" }) {
                    running = Date().timeIntervalSince(start)
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Its writes resume a moment after it runs (a restarted guest boots first).
        try await Task.sleep(for: .seconds(kind == .crash || kind == .host ? 5 : 1))
        // A restarted guest counts from 1 again: its pause is its restart, not followed here.
        let followed = await writes.stop()
        let writesPaused = kind == .crash || kind == .host ? nil : followed
        for link in links { try? await ip(vm.host, link, up: true) }
        if kind == .ioPaths { try? IOPathFault.heal(on: vm.host) }
        guard let running else { throw ValidationError("\(vm.name) did not run again within 60 s") }
        // The failover's first step, and its migration report. A move made by the host itself
        // reaches the controller's journal once management is back: its detection is read from
        // the journal's times.
        let first = try await event(after: after, within: 30, firstStep)
        let record = try await client.operation(first.subject)
        let moved = record.steps.compactMap { step -> Int64? in
            if case .migrated(let report) = step.output { return report.transferredBytes }
            return nil
        }.first
        var began: [String: Date] = [:]
        var steps: [(String, Double)] = []
        for step in record.steps {
            if step.phase == .started { began[step.step] = step.at }
            if step.phase == .done, let at = began[step.step] { steps.append((step.step, step.at.timeIntervalSince(at))) }
        }
        try await settled()
        return .init(detection: detected ?? first.at.timeIntervalSince(start), running: running, writesPaused: writesPaused, bytes: moved, steps: steps)
    }

    /// The newest event's sequence (the events come a page at a time).
    func latestEvent() async throws -> Int {
        var sequence = 0
        while true {
            let page = try await client.events(after: sequence)
            guard !page.events.isEmpty else { return sequence }
            sequence = page.next
        }
    }

    /// Until the guest writes (a VM restarted after a crash boots first: an NMI then is lost).
    func guestWrites(_ vm: VMStatus) async throws {
        guard let monitor = vm.monitor else { throw ValidationError("\(vm.name) has no monitor") }
        let machine = try await QEMUMachine.adopt(socketPath: monitor, name: vm.name)
        defer { Task { await machine.qmp.close() } }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let first = try await machine.writeOperations()
            try await Task.sleep(for: .milliseconds(500))
            if try await machine.writeOperations() > first { return }
        }
        throw ValidationError("\(vm.name)'s guest did not write within 60 s")
    }

    /// Every host healthy, every VM running with its host's paths up, and a few seconds more.
    func settled() async throws {
        try await waitUntil(within: 90) { status in
            status.hosts.allSatisfy { $0.condition.verdict == .healthy } && status.operations.isEmpty
                && status.vms.allSatisfy { vm in
                    vm.state == "running" && status.hosts.first { $0.name == vm.host }?.datastores.first?.paths.allSatisfy { $0.state == .up } == true
                }
        }
        try await Task.sleep(for: .seconds(3))
    }

    func event(after sequence: Int, within seconds: Double, _ matches: (ClusterEvent) -> Bool) async throws -> ClusterEvent {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let found = try await client.events(after: sequence).events.first(where: matches) { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("no such event within \(seconds) s")
    }

    func waitUntil(within seconds: Double, _ check: (ClusterStatus) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let status = try? await client.status(), check(status) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ValidationError("not within \(seconds) s")
    }

    func ip(_ host: String, _ link: String, up: Bool) async throws {
        let result = try await ProcessRunner.run("/usr/bin/env", ["ip", "-n", LabLayout.namespace(of: host), "link", "set", link, up ? "up" : "down"], timeout: 20)
        guard result.status == 0 else { throw ValidationError("ip link set \(link): \(result.stderr)") }
    }
}
