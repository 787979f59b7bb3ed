import Foundation
import Testing
import TetherTestKit
@testable import TetherCommands
import TetherTestSupport

/// `tether demo`, the README's first command: run for real (as CI does, as root), its timeline
/// checked; and without what it needs, a message that says exactly what is missing.
struct DemoTests {
    static var canRun: Bool {
        getuid() == 0 && DemoPrerequisites.missing(directory: Tools.productsDirectory.path) == nil
    }

    @Test(.requires(DemoTests.canRun, "needs root, iproute2, QEMU, umockdev, runc and busybox (CI has them all)"))
    func theDemoTellsTheWholeStoryAndCleansUp() async throws {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["demo"], timeout: 300)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let story = result.stdout
        for line in [
            "host-b registered: vm-b (64 MiB, 1000 Mbit/s); devices host-b/1-3 046d:0825 needs 197.4 Mbit/s, host-b/1-4 1a86:7523 needs 64.0 kbit/s",
            "decision: FORWARD host-b/1-4 to vm-a on host-a over a mutual-TLS channel",
            "why: device needs 64.0 kbit/s, under 1% of the VM's 100 Mbit/s (threshold 50%)",
            "vm-a runs on host-a (running) and its QEMU lists: tether-vm-a.host-b.1-4 at 12 Mb/s",
            "decision: MIGRATE vm-a from host-a to host-b",
            "why: device needs 197.4 Mbit/s, 197% of the VM's 100 Mbit/s (threshold 50%)",
            "with vm-a/host-b/1-4 following it",
            "step migrate: migrated to host-b",
            "vm-a runs on host-b (running) and its QEMU lists: tether-vm-a.host-b.1-4 at 12 Mb/s, tether-vm-a.host-b.1-3 at 480 Mb/s",
            "container says: found /dev/bus/usb/001/005, a character device: the dongle",
            "its poststop hook gave the dongle back (attachments now: host-b/1-3 -> vm-a)",
            "cut host-a's first storage link: ip -n tl-host-a link set st0 down",
            "vm-a's disk is on nbd://10.84.0.1:10809 and the VM runs",
            "sequence continuous (no write lost, none twice, memory kept)",
            "cut host-a's second storage link too: ip -n tl-host-a link set st1 down",
            "vm-a runs on host-b",
            "continuous (memory intact: no write lost, none twice, no restart)",
            "tether lab down",
            "cleaned up: daemons, VMs, namespaces and files",
        ] {
            #expect(story.contains(line), "missing from the timeline: \(line)\n\(story)")
        }
        // Cleaned up for real: its directory, processes and namespaces are gone.
        let directory = try #require(story.split(separator: "(").dropFirst().first?.split(separator: ")").first.map(String.init))
        #expect(!FileManager.default.fileExists(atPath: directory))
        let left = try await ProcessRunner.run("/usr/bin/env", ["pgrep", "-f", directory])
        #expect(left.stdout.isEmpty, "no process of the demo is left")
        let namespaces = try await ProcessRunner.run("/usr/bin/env", ["ip", "netns", "list"])
        #expect(!namespaces.stdout.contains(String(directory.suffix(5))), "\(namespaces.stdout)")
    }

    @Test func withoutWhatItNeedsItSaysExactlyWhatIsMissing() {
        let message = DemoPrerequisites.missing(directory: "/nonexistent", isRoot: false) ?? ""
        #expect(message.hasPrefix("tether demo needs:\n"))
        #expect(message.contains("root (it makes network namespaces and runs runc): run it with sudo"))
        #expect(message.contains("tetherd, tether-oci-hook, tether-oci-attach, usbredir-replay beside tether in /nonexistent: swift build -c release"))
    }
}
