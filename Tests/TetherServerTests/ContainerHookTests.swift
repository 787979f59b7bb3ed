import Foundation
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// tether-oci-hook under real runc, in front of a real cluster: a container that asks for a
/// device by annotation finds its node; one that does not starts untouched; every failure makes
/// runc refuse the container with the hook's one line, and leaves no attachment behind.
@Suite(.serialized, .requires(ClusterHarness.canRun && RuncBundle.canRun, "needs root, runc, busybox, nsenter, umockdev and QEMU (CI has them all)"))
struct ContainerHookTests {
    static let hook = Tools.product("tether-oci-hook")

    static func hooks(_ cluster: ClusterHarness, extra: [String] = [], socket: String? = nil) -> [String: [[String]]] {
        let common = ["--socket", socket ?? cluster.socket, "--vm", "vm-b", "--sysfs", cluster.hostBSysfs] + extra
        return ["createRuntime": [[hook, "create"] + common], "poststop": [[hook, "poststop"] + common]]
    }

    @Test func aContainerThatAsksForTheDongleFindsItsNodeAndGivesItBackWhenItStops() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let bundle = try await RuncBundle(command: "test -c /dev/bus/usb/001/005 && echo found-the-dongle; ls /dev/bus/usb/001",
                                    annotations: ["tether.io/devices": "1a86:7523"], hooks: Self.hooks(cluster))
        defer { bundle.remove() }
        let run = try await bundle.run("dongle-user")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("found-the-dongle"), "the node is in the container's /dev: \(run.stdout)")
        #expect(cluster.agents["host-b"]?.output.contains("opened channel") == true, "host-b gave vm-b the device")
        // poststop ran when the container ended: the device went back.
        #expect(try await cluster.settled().attachments.isEmpty)
    }

    @Test func aContainerWithoutTheAnnotationStartsUntouched() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let bundle = try await RuncBundle(command: "test -e /dev/bus/usb && echo has-usb || echo no-usb", hooks: Self.hooks(cluster))
        defer { bundle.remove() }
        let run = try await bundle.run("plain")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("no-usb"))
        let status = try await cluster.status()
        #expect(status.attachments.isEmpty && status.operations.isEmpty)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var devices: String
        var extra: [String] = []
        var noController = false
        var says: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        Refusal(name: "an unknown selector", devices: "ffff:0001", says: "no registered device matches ffff:0001"),
        Refusal(name: "a malformed annotation", devices: "1a86:7523,,zz", says: "annotation tether.io/devices '1a86:7523,,zz' has an empty entry"),
        Refusal(name: "tetherd not running", devices: "1a86:7523", noController: true, says: "cannot reach tetherd"),
        Refusal(name: "an attach that times out", devices: "1a86:7523", extra: ["--timeout", "2", "--sysfs", "/nonexistent"],
                says: "did not appear on this host within"),
    ])
    func aFailingHookRefusesTheContainerAndLeavesNothingBehind(_ refusal: Refusal) async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        var hooks = Self.hooks(cluster, socket: refusal.noController ? "\(cluster.directory)/nobody.sock" : nil)
        // The timeout case's own --sysfs comes last and wins.
        hooks["createRuntime"] = hooks["createRuntime"].map { $0.map { $0 + refusal.extra } }
        let bundle = try await RuncBundle(command: "echo the-container-ran", annotations: ["tether.io/devices": refusal.devices], hooks: hooks)
        defer { bundle.remove() }
        let run = try await bundle.run("refused-\(refusal.name.count)")
        #expect(run.status != 0, "runc must refuse the container")
        #expect(!run.stdout.contains("the-container-ran"))
        #expect(run.stderr.contains("tether-oci-hook: ") && run.stderr.contains(refusal.says), "\(run.stderr)")
        let status = try await cluster.settled()
        #expect(status.attachments.isEmpty, "no attachment left behind: \(status.attachments)")
    }

    /// The C-library-only front waves through only what it fully understands; the rest reaches
    /// the full hook, which does the work or reports.
    @Test(arguments: [
        (["create", "--socket", "/nonexistent.sock"],
         #"{"ociVersion": "1.0.2", "id": "c", "status": "created", "pid": 1, "bundle": "/b", "annotations": {"tether.io\/devices": "1a86:7523"}}"#,
         "cannot reach tetherd at /nonexistent.sock"),
        (["create", "--sockett", "/x"], #"{"ociVersion": "1.0.2", "id": "c", "status": "created", "bundle": "/b"}"#,
         "unknown argument '--sockett'"),
        (["create", "--vm"], #"{"ociVersion": "1.0.2", "id": "c", "status": "created", "bundle": "/b"}"#, "--vm needs a value"),
    ])
    func theFastFrontHandsOverWhatItCannotWaveThrough(_ arguments: [String], _ input: String, _ says: String) async throws {
        let result = try await ProcessRunner.run(Self.hook, arguments, input: input)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("tether-oci-hook: ") && result.stderr.contains(says), "\(result.stderr)")
    }

    @Test(arguments: [
        ("", "malformed container state: nothing on stdin (is this run as an OCI hook?)"),
        ("{", "malformed container state: the body is not valid JSON"),
        (#"{"ociVersion": "1.0.2", "status": "created", "bundle": "/b"}"#, "malformed container state: 'id' is missing"),
        (#"{"ociVersion": "1.0.2", "id": "c", "status": "created", "bundle": "/b", "annotations": {"tether.io/devices": 7}}"#,
         "malformed container state: 'annotations.tether.io/devices' must be a string"),
    ])
    func malformedStateIsOneLineAndAFailure(_ input: String, _ says: String) async throws {
        let result = try await ProcessRunner.run(Self.hook, ["create", "--socket", "/nonexistent.sock"], input: input)
        #expect(result.status == 1)
        #expect(result.stderr == "tether-oci-hook: \(says)\n")
    }
}
