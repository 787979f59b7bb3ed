import Foundation

/// What this host's TCP settings allow QEMU's NBD client: a request on a dead link fails only
/// when TCP gives up retransmitting, after `tcp_retries2` retries with the timeout doubling from
/// 200 ms (capped at 120 s): 1.4 s at 2, 3.0 s at 3, about 15 minutes at the kernel's 15. The
/// agent's own path probe does not wait on it (each write has its deadline), but a VM's IO does:
/// until then the VM's vCPU waits on the write (shared/notes/qemu-storage-faults.md).
public enum StorageTimeouts {
    public static func tcpGiveUp(retries: Int) -> Double {
        (0...max(0, retries)).reduce(0.0) { total, i in total + min(0.2 * pow(2, Double(i)), 120) }
    }

    /// The value in this network namespace, nil where it cannot be read.
    public static func tcpRetries2(path: String = "/proc/sys/net/ipv4/tcp_retries2") -> Int? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// One line for the agent's log at start.
    public static func describe(retries: Int?) -> (ok: Bool, text: String) {
        guard let retries else { return (false, "cannot read net.ipv4.tcp_retries2: a VM's IO on a dead storage path may hang for minutes") }
        let seconds = tcpGiveUp(retries: retries)
        let text = String(format: "net.ipv4.tcp_retries2=%d: a VM's IO on a dead storage path fails after about %.1f s", retries, seconds)
        return seconds <= 2 ? (true, text) : (false, text + "; set it to 2 (sysctl -w net.ipv4.tcp_retries2=2) for the 2 s the spec asks")
    }
}
