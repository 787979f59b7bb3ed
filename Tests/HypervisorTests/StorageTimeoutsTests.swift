import Foundation
import Hypervisor
import Testing

/// What the host's TCP settings allow a VM's IO on a dead storage path (the figures measured in
/// shared/notes/qemu-storage-faults.md: 1.5 s at 2 retries, 3.1 s at 3, minutes by default; a
/// lost reply: keep-alive's time, two hours by default).
struct StorageTimeoutsTests {
    static let recommended = StorageTimeouts.KeepAlive(time: 2, interval: 1, probes: 2)

    @Test(arguments: [(2, 1.4), (3, 3.0), (15, 924.6)])
    func tcpGivesUpAfterItsRetries(retries: Int, seconds: Double) {
        #expect(abs(StorageTimeouts.tcpGiveUp(retries: retries) - seconds) < 0.05)
    }

    @Test func theAgentSaysWhatItsSettingsAllow() {
        #expect(StorageTimeouts.describe(retries: 2, keepAlive: Self.recommended).ok)
        let slow = StorageTimeouts.describe(retries: 15, keepAlive: Self.recommended)
        #expect(!slow.ok && slow.text.contains("set it to 2"))
        #expect(!StorageTimeouts.describe(retries: nil, keepAlive: Self.recommended).ok)
        let kernelDefaults = StorageTimeouts.describe(retries: 2, keepAlive: StorageTimeouts.KeepAlive(time: 7200, interval: 75, probes: 9))
        #expect(!kernelDefaults.ok && kernelDefaults.text.contains("net.ipv4.tcp_keepalive_time=2"), "\(kernelDefaults.text)")
        #expect(!StorageTimeouts.describe(retries: 2, keepAlive: nil).ok)
    }

    @Test func theSettingsAreReadFromProc() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tcp-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(StorageTimeouts.tcpRetries2(directory: directory) == nil)
        #expect(StorageTimeouts.keepAlive(directory: directory) == nil)
        for (name, value) in [("tcp_retries2", "3\n"), ("tcp_keepalive_time", "2\n"), ("tcp_keepalive_intvl", "1\n"), ("tcp_keepalive_probes", "2\n")] {
            try value.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        }
        #expect(StorageTimeouts.tcpRetries2(directory: directory) == 3)
        #expect(StorageTimeouts.keepAlive(directory: directory) == Self.recommended)
        #expect(Self.recommended.giveUp == 4)
    }
}
