import Foundation
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// podman gives containers devices for real: through the hooks.d files in samples/ (the
/// annotation), and the CDI way (`tether cdi generate`, then `--device tether.io/usb=NAME`),
/// in front of a real cluster whose host-b has the recorded dongle.
@Suite(.serialized, .requires(ClusterHarness.canRun && Podman.canRun, "needs root, podman, runc, busybox, nsenter, unshare, umockdev and QEMU (CI has them all)"))
struct PodmanTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples/oci-hooks.d")
    static let finds = "test -c /dev/bus/usb/001/005 && echo found-the-dongle; echo devices=$TETHER_DEVICES"

    /// The samples' hooks.d files, pointed at this build's hook, the cluster's socket, vm-b, and
    /// host-b's testbed sysfs (what the VM would see).
    static func hooksDirectory(_ cluster: ClusterHarness) throws -> String {
        let directory = "\(cluster.directory)/hooks.d"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: samples.path) where file.hasSuffix(".json") {
            var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: samples.appendingPathComponent(file))) as? [String: Any])
            var hook = try #require(json["hook"] as? [String: Any])
            var args = try #require(hook["args"] as? [String])
            for (i, arg) in args.enumerated() where i > 0 {
                if args[i - 1] == "--socket" { args[i] = cluster.socket }
                if args[i - 1] == "--vm" { args[i] = "vm-b" }
                _ = arg
            }
            hook["path"] = Tools.product("tether-oci-hook")
            hook["args"] = args + ["--sysfs", cluster.hostBSysfs]
            json["hook"] = hook
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: "\(directory)/\(file)"))
        }
        return directory
    }

    @Test func theSampleHooksGiveAnAnnotatedContainerItsDevice() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let podman = try await Podman()
        defer { podman.remove() }
        let hooks = try Self.hooksDirectory(cluster)
        let plain = try await podman.run(["--hooks-dir", hooks], command: "test -e /dev/bus/usb && echo has-usb || echo no-usb")
        #expect(plain.status == 0 && plain.stdout.contains("no-usb"), "no annotation, no hook: \(plain.stderr)")

        let run = try await podman.run(["--hooks-dir", hooks, "--annotation", "tether.io/devices=1a86:7523"], command: Self.finds)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("found-the-dongle"), "the node is in the container's /dev: \(run.stdout)\(run.stderr)")
        #expect(cluster.agents["host-b"]?.output.contains("opened channel") == true, "host-b gave vm-b the device")
        #expect(try await cluster.settled().attachments.isEmpty, "the poststop hook gave it back")

        let refused = try await podman.run(["--hooks-dir", hooks, "--annotation", "tether.io/devices=ffff:0001"], command: "echo the-container-ran")
        #expect(refused.status != 0 && !refused.stdout.contains("the-container-ran"))
        #expect(refused.stderr.contains("no registered device matches ffff:0001"), "podman shows the hook's line: \(refused.stderr)")
    }

    @Test func aCDIDeviceIsAskedForByName() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let podman = try await Podman()
        defer { podman.remove() }
        let cdi = "\(cluster.directory)/cdi"
        let generated = try await cluster.tether(["cdi", "generate", "--output", "\(cdi)/tether.yaml", "--hook", Tools.product("tether-oci-hook"),
                                                  "--vm", "vm-b", "--hook-sysfs", cluster.hostBSysfs, "--device", "dongle=1a86:7523"])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(generated.stdout.contains("tether.io/usb=1a86-7523") && generated.stdout.contains("tether.io/usb=host-b_1-4")
                && generated.stdout.contains("tether.io/usb=dongle"), "\(generated.stdout)")

        let run = try await podman.run(cdi: cdi, ["--device", "tether.io/usb=dongle"], command: Self.finds)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("found-the-dongle") && run.stdout.contains("devices=1a86:7523"), "\(run.stdout)\(run.stderr)")
        // runc runs a CDI spec's poststop hook as it deletes the container, which podman's
        // cleanup may do just after `run` returned.
        var attachments = try await cluster.settled().attachments
        for _ in 0..<100 where !attachments.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            attachments = try await cluster.settled().attachments
        }
        #expect(attachments.isEmpty, "the poststop hook gave it back: \(attachments.map(\.id))")

        let unknown = try await podman.run(cdi: cdi, ["--device", "tether.io/usb=nope"], command: "echo ran")
        #expect(unknown.status != 0 && unknown.stderr.contains("unresolvable CDI devices tether.io/usb=nope"), "\(unknown.stderr)")
    }
}
