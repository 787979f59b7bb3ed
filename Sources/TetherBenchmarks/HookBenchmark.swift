import ArgumentParser
import ClusterStore
import Foundation
import Hummingbird
import Logging
import TetherClient
import TetherModel
import Controller
import TetherHTTP
import TetherServer
import TetherTestSupport

/// What tether-oci-hook adds to `runc run` of a busybox container: with no annotation (the hook
/// only reads the state and returns), and with a device that is already on this host (attach
/// through the controller's socket, find the device in sysfs, create its node in the container
/// and allow it in the device cgroup). Medians of `--runs` runs each, next to runc without hooks.
/// The controller runs in-process with agents that answer at once: the figure is the hook's own.
struct HookBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hook", abstract: "What the OCI hook adds to runc run (needs root and runc).")

    @Option(help: "Runs of each kind.") var runs = 20

    func run() async throws {
        guard getuid() == 0, let runc = Tools.which("runc") else { throw ValidationError("needs root and runc (apt-get install runc busybox-static)") }
        let hook = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tether-oci-hook").path
        guard FileManager.default.isExecutableFile(atPath: hook) else { throw ValidationError("build tether-oci-hook next to this benchmark first") }
        let directory = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }

        // The controller, with host-a running vm-a (container c1) and the CH340 plugged into host-a.
        let socket = "\(directory)/tetherd.sock"
        let recorder = FirstCall()
        let controller = try await Controller(store: try SQLiteClusterStore(path: "\(directory)/tether.sqlite")) { RecordingAgent(host: $0.host, recorder: recorder) }
        let networks: [NetworkRole: NetworkLink] = [.management: .init(up: true, mbps: 1000), .migration: .init(up: true, mbps: 1000),
                                                    .vm: .init(up: true, mbps: 1000), .storage: .init(up: true, mbps: 1000)]
        try await controller.register(AgentRegistration(
            host: "host-a", agentAddress: HostPort(host: "127.0.0.1", port: 7401), cpus: 8, memoryMiB: 8192, networks: networks, datastores: ["ds1"],
            devices: [RegisteredDevice(id: "1-4", vendorId: "1a86", productId: "7523", periodicBytesPerSecond: 8_000)],
            vms: [RegisteredVM(name: "vm-a", cpus: 1, memoryMiB: 128, networkMbps: 100, datastore: "ds1")]))
        var logger = Logger(label: "benchmark", factory: TetherLogHandler.init)
        logger.logLevel = .critical   // the server's "already closed" at the end is expected
        let app = Application(router: ControllerRoutes.router(controller), server: LoopAffineServer.http1(),
                              configuration: .init(address: .unixDomainSocket(path: socket)), logger: logger)
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        let runner = Task { try await OperationRunner(controller).run() }
        defer { runner.cancel() }
        while !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(10)) }

        // This host's sysfs, as the hook reads it: the CH340 at bus 1, address 5.
        let sysfs = "\(directory)/sys"
        try FileManager.default.createDirectory(atPath: "\(sysfs)/1-4", withIntermediateDirectories: true)
        for (key, value) in ["idVendor": "1a86", "idProduct": "7523", "bDeviceClass": "ff", "busnum": "1", "devnum": "5"] {
            try "\(value)\n".write(toFile: "\(sysfs)/1-4/\(key)", atomically: true, encoding: .utf8)
        }

        let hookArgs = ["--socket", socket, "--vm", "vm-a", "--sysfs", sysfs]
        let plain = try await Bundle(directory: "\(directory)/plain", runc: runc, annotations: [:], hooks: [:])
        let hooked = try await Bundle(directory: "\(directory)/hooked", runc: runc, annotations: [:],
                                hooks: ["createRuntime": [hook, "create"] + hookArgs])
        let asking = try await Bundle(directory: "\(directory)/asking", runc: runc, annotations: ["tether.io/devices": "1a86:7523"],
                                hooks: ["createRuntime": [hook, "create"] + hookArgs, "poststop": [hook, "poststop"] + hookArgs])
        var times: [String: [Duration]] = [:]
        for i in 0..<runs {
            for (name, bundle) in [("runc alone", plain), ("hook, no annotation", hooked), ("hook, device local", asking)] {
                let start = ContinuousClock.now
                let result = try await ProcessRunner.run(runc, ["run", "--bundle", bundle.directory, "bench-\(i)-\(name.count)"])
                guard result.status == 0, result.stdout.contains("ok") else {
                    throw ValidationError("\(name): runc run failed: \(result.stderr)\(result.stdout)")
                }
                times[name, default: []].append(ContinuousClock.now - start)
            }
        }
        let base = percentile(times["runc alone"] ?? [], 50)
        print("runc run of a busybox container, median of \(runs):")
        for name in ["runc alone", "hook, no annotation", "hook, device local"] {
            let median = percentile(times[name] ?? [], 50)
            print("  \(name): \(ms(median)) ms" + (name == "runc alone" ? "" : " (the hook adds \(ms(median - base)) ms)"))
        }
    }

    /// A busybox bundle whose process checks for the node when the device was asked for.
    struct Bundle {
        let directory: String

        init(directory: String, runc: String, annotations: [String: String], hooks: [String: [String]]) async throws {
            self.directory = directory
            try FileManager.default.createDirectory(atPath: "\(directory)/rootfs/bin", withIntermediateDirectories: true)
            let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/bin/busybox"
            try FileManager.default.copyItem(atPath: busybox, toPath: "\(directory)/rootfs/bin/busybox")
            for applet in ["sh", "test", "echo"] {
                try FileManager.default.createSymbolicLink(atPath: "\(directory)/rootfs/bin/\(applet)", withDestinationPath: "busybox")
            }
            _ = try await ProcessRunner.run(runc, ["spec", "--bundle", directory])
            let path = "\(directory)/config.json"
            guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
                  var process = config["process"] as? [String: Any] else { throw ValidationError("runc spec failed") }
            process["terminal"] = false
            process["args"] = ["sh", "-c", annotations.isEmpty ? "echo ok" : "test -c /dev/bus/usb/001/005 && echo ok"]
            config["process"] = process
            config["annotations"] = annotations
            config["hooks"] = hooks.mapValues { [["path": $0[0], "args": $0]] }
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        }
    }
}
