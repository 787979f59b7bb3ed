import ArgumentParser
import Foundation
import TetherTestSupport
import USBProbe

/// `tether probe` of a recording of many devices next to `lsusb -v` on the same recording, in
/// the same run, interleaved so that both see the same machine.
struct ProbeBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "probe", abstract: "tether probe vs lsusb -v on N recorded devices.")

    @Option(help: "Devices in the generated recording.") var devices = 100
    @Option(help: "Timed runs of each command.") var runs = 30
    @Option(help: "Also write the generated recording here (to replay it with umockdev-run).") var saveRecording: String?

    func run() async throws {
        guard let umockdev = Tools.which("umockdev-run"), let lsusb = Tools.which("lsusb") else {
            throw ValidationError("needs umockdev-run and lsusb: apt-get install umockdev usbutils")
        }
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recording = directory.appendingPathComponent("many.umockdev")
        try UMockdevRecording.many(devices).write(to: recording)
        if let saveRecording { try UMockdevRecording.many(devices).write(to: URL(fileURLWithPath: saveRecording)) }
        let tether = Tools.productsDirectory.appendingPathComponent("tether").path
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path

        // Sanity first: the figures must be right before their speed means anything.
        let check = try await ProcessRunner.underUMockdev(recording, tether, ["probe", "--json"])
        let report = try JSONDecoder().decode(ProbeReport.self, from: Data(check.stdout.utf8))
        let listed = report.devices.filter { $0.portPath != "\($0.bus)-0" }
        guard listed.count == devices, listed.allSatisfy({ $0.error == nil }) else {
            throw ValidationError("tether probe listed \(listed.count) of \(devices) devices, or with errors")
        }

        let commands: [(name: String, arguments: [String])] = [
            ("umockdev-run only (baseline)", ["-d", recording.path, "--", "/bin/true"]),
            ("tether probe --json", ["-d", recording.path, "--", tether, "probe", "--json"]),
            ("lsusb -v", ["-d", recording.path, "--", lsusb, "-v"]),
        ]
        var samples = [[Double]](repeating: [], count: commands.count)
        for _ in 0..<runs {
            for (i, command) in commands.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                let result = try await ProcessRunner.run(umockdev, command.arguments, timeout: 120)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                guard !result.timedOut else { throw ValidationError("\(command.name) timed out") }
                samples[i].append(elapsed)
            }
        }
        let inProcess = try await ProcessRunner.underUMockdev(recording, me, ["in-process-probe", "--runs", "\(runs)"], timeout: 300)

        let baseline = median(samples[0])
        print("Probe of \(devices) recorded devices (+\(report.devices.count - devices) root hubs), \(runs) runs each, medians:")
        print(pad("command", 30) + pad("whole (ms)", 12) + pad("minus baseline (ms)", 21) + "per device (ms)")
        for (i, command) in commands.enumerated() {
            let whole = median(samples[i])
            let net = i == 0 ? whole : whole - baseline
            print(pad(command.name, 30) + pad(fixed(whole), 12) + pad(i == 0 ? "-" : fixed(net), 21) + (i == 0 ? "-" : fixed(net / Double(devices), 3)))
        }
        print(inProcess.stdout, terminator: "")
    }
}

/// Times `USBInventory.probe()` inside one process (run under umockdev by `probe`): the probe's
/// own cost per device, without process start-up.
struct InProcessProbe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "in-process-probe", shouldDisplay: false)
    @Option var runs = 30

    func run() throws {
        var samples: [Double] = []
        var count = 0
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            count = try USBInventory.probe().devices.count
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let m = median(samples)
        print("USBInventory.probe() in-process: \(fixed(m)) ms for \(count) devices = \(fixed(m * 1000 / Double(count), 1)) us per device")
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func fixed(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count + 1), withPad: " ", startingAt: 0) }
