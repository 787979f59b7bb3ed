import Foundation

/// What this host's TCP settings allow QEMU's NBD client. QEMU 7.2 has no deadline of its own on
/// a request, so two kernel settings decide how long a VM's IO can wait on a dead storage path,
/// its vCPU (and a `stop`, which drains, holding QMP) with it (shared/notes/qemu-storage-faults.md):
/// - a request not yet acknowledged fails when TCP gives up retransmitting it, after
///   `tcp_retries2` retries with the timeout doubling from 200 ms (capped at 120 s): 1.4 s at 2,
///   3.0 s at 3, about 15 minutes at the kernel's 15;
/// - a request the server acknowledged whose reply was lost (the link died between the two, and
///   the server gave up on the connection meanwhile) leaves nothing to retransmit: only
///   keep-alive, which QEMU turns on, finds the connection gone, after `tcp_keepalive_time` of
///   silence and `tcp_keepalive_probes` unanswered probes `tcp_keepalive_intvl` apart. By default
///   that is two hours; the VM hung that long in the lab once, two VMs' `stop`s with it.
/// Both are per network namespace. The agent's own path probe waits on neither (each of its
/// writes has a deadline).
public enum StorageTimeouts {
    public static func tcpGiveUp(retries: Int) -> Double {
        (0...max(0, retries)).reduce(0.0) { total, i in total + min(0.2 * pow(2, Double(i)), 120) }
    }

    /// Keep-alive for a storage host: a lost reply noticed after 4 s of silence; an idle
    /// connection costs a probe every 2 s.
    public static let keepAlive: [(name: String, value: String)] = [
        ("net.ipv4.tcp_keepalive_time", "2"), ("net.ipv4.tcp_keepalive_intvl", "1"), ("net.ipv4.tcp_keepalive_probes", "2"),
    ]

    /// The keep-alive settings as read: time, interval, probes.
    public struct KeepAlive: Sendable, Equatable {
        public var time: Int, interval: Int, probes: Int

        public init(time: Int, interval: Int, probes: Int) {
            self.time = time
            self.interval = interval
            self.probes = probes
        }

        /// How long a connection whose peer vanished can stay silent before it fails.
        public var giveUp: Int { time + interval * probes }
    }

    /// `tcp_retries2` in this network namespace, nil where it cannot be read.
    public static func tcpRetries2(directory: String = "/proc/sys/net/ipv4") -> Int? {
        value("\(directory)/tcp_retries2")
    }

    /// The keep-alive settings in this network namespace, nil where they cannot be read.
    public static func keepAlive(directory: String = "/proc/sys/net/ipv4") -> KeepAlive? {
        guard let time = value("\(directory)/tcp_keepalive_time"), let interval = value("\(directory)/tcp_keepalive_intvl"),
              let probes = value("\(directory)/tcp_keepalive_probes") else { return nil }
        return KeepAlive(time: time, interval: interval, probes: probes)
    }

    private static func value(_ path: String) -> Int? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// One line for the agent's log at start; `ok` when a VM's IO on a dead path fails within
    /// seconds either way.
    public static func describe(retries: Int?, keepAlive: KeepAlive?) -> (ok: Bool, text: String) {
        var problems: [String] = []
        var facts: [String] = []
        if let retries {
            let seconds = tcpGiveUp(retries: retries)
            facts.append(String(format: "net.ipv4.tcp_retries2=%d: a VM's request on a dead storage path fails after about %.1f s", retries, seconds))
            if seconds > 2 { problems.append("set it to 2 (sysctl -w net.ipv4.tcp_retries2=2) for the 2 s the spec asks") }
        } else {
            problems.append("cannot read net.ipv4.tcp_retries2: a VM's IO on a dead storage path may hang for minutes")
        }
        if let keepAlive {
            facts.append("keep-alive \(keepAlive.time)+\(keepAlive.probes)x\(keepAlive.interval): a reply lost with the path is noticed after \(keepAlive.giveUp) s")
            if keepAlive.giveUp > 10 {
                let settings = Self.keepAlive.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                problems.append("a VM can wait that long on a lost reply, paused and holding QMP: sysctl -w \(settings)")
            }
        } else {
            problems.append("cannot read the TCP keep-alive settings: a VM may wait hours on a reply lost with its storage path")
        }
        return (problems.isEmpty, (facts + problems).joined(separator: "; "))
    }
}
