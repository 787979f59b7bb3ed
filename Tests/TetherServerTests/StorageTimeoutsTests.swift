import Agent
import Testing

/// What the host's TCP settings allow a VM's IO on a dead storage path (the figures measured in
/// shared/notes/qemu-storage-faults.md: 1.5 s at 2 retries, 3.1 s at 3, minutes by default).
struct StorageTimeoutsTests {
    @Test(arguments: [(2, 1.4), (3, 3.0), (15, 924.6)])
    func tcpGivesUpAfterItsRetries(retries: Int, seconds: Double) {
        #expect(abs(StorageTimeouts.tcpGiveUp(retries: retries) - seconds) < 0.05)
    }

    @Test func theAgentSaysWhatItsSettingsAllow() {
        #expect(StorageTimeouts.describe(retries: 2).ok)
        let slow = StorageTimeouts.describe(retries: 15)
        #expect(!slow.ok && slow.text.contains("set it to 2"))
        #expect(!StorageTimeouts.describe(retries: nil).ok)
        #expect(StorageTimeouts.tcpRetries2(path: "/nonexistent") == nil)
    }
}
