@testable import Hypervisor
import Testing

/// QEMU's disk connections that the kernel retransmits into without an answer, read from `ss
/// -tinpH` as captured in the lab: vm-b's NBD connection cut (nftables dropped what it sent)
/// for 1.2 s, beside another QEMU's healthy one and the agent's heartbeat connection.
struct StuckConnectionTests {
    static let captured = """
        0      540    10.83.0.11:46374 10.83.0.1:10809 users:(("qemu-system-x86",pid=9149,fd=16))
        	 bbr wscale:10,10 rto:204 backoff:1 rtt:1.383/1.311 ato:40 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:138 bytes_sent:15091019 bytes_acked:15087240 bytes_received:447255 segs_out:28050 segs_in:28060 data_segs_out:27955 data_segs_in:27951 bbr:(bw:1654857040bps,mrtt:0.007,pacing_gain:2.88672,cwnd_gain:2.88672) send 1155887202bps lastsnd:156 lastrcv:1224 lastack:364 pacing_rate 12261240272bps delivery_rate 1654857136bps delivered:27949 app_limited busy:114260ms rcv_rtt:30900.7 rcv_space:64511 rcv_ssthresh:64088 notsent:540 minrtt:0.007 snd_wnd:65536
        0      0      10.83.0.11:51530 10.83.0.1:10809 users:(("qemu-system-x86",pid=8985,fd=9))
        	 bbr wscale:10,10 rto:204 rtt:1.055/1.307 ato:40 mss:1448 pmtu:1500 rcvmss:540 advmss:1448 cwnd:138 bytes_sent:19875931 bytes_acked:19875932 bytes_received:590175 segs_out:36958 segs_in:36925 data_segs_out:36815 data_segs_in:36815 bbr:(bw:2316799856bps,mrtt:0.005,pacing_gain:2.88672,cwnd_gain:2.88672) send 1515253081bps lastsnd:16 lastrcv:16 lastack:16 pacing_rate 6621070104bps delivery_rate 2316800000bps delivered:36816 app_limited busy:130592ms rcv_rtt:1 rcv_space:14480 rcv_ssthresh:51200 minrtt:0.005 snd_wnd:65536
        0      0      10.83.0.11:51542 10.83.0.1:10809 users:(("tetherd",pid=8954,fd=32))
        	 bbr wscale:10,10 rto:208 rtt:4.069/6.973 ato:40 mss:1448 pmtu:1500 rcvmss:1448 advmss:1448 cwnd:138 bytes_sent:409863 bytes_acked:409864 bytes_received:1110392 segs_out:1722 segs_in:1589 data_segs_out:850 data_segs_in:1577 bbr:(bw:827428176bps,mrtt:0.014,pacing_gain:2.88672,cwnd_gain:2.88672) send 392870976bps lastsnd:360 lastrcv:360 lastack:360 pacing_rate 5807956128bps delivery_rate 827428568bps delivered:851 app_limited busy:3424ms rcv_rtt:0.061 rcv_space:585248 rcv_ssthresh:1972970 minrtt:0.014 snd_wnd:1030144
        """

    @Test func theCutConnectionIsStuckAndTheHealthyOnesAreNot() {
        let stuck = StuckConnection.parse(Self.captured, pid: 9149, backoff: 1)
        #expect(stuck == [StuckConnection(local: "10.83.0.11:46374", peer: "10.83.0.1:10809", unacknowledgedBytes: 3780, backoff: 1)])
        #expect(StuckConnection.parse(Self.captured, pid: 9149, backoff: 2).isEmpty, "one timeout so far: not yet")
        #expect(StuckConnection.parse(Self.captured, pid: 8985, backoff: 1).isEmpty, "nothing in flight on the other QEMU's")
        #expect(StuckConnection.parse(Self.captured, pid: 8954, backoff: 0).isEmpty, "the agent's is not QEMU's, and is acknowledged")
    }

    /// What a backoff proves of the silence: a heartbeat that went through after that is proof
    /// the path works for the host while this connection does not.
    @Test func eachRetransmissionTimeoutDoublesTheSilenceAtLeast() {
        let silences = (1...3).map { StuckConnection(local: "a:1", peer: "b:2", unacknowledgedBytes: 1, backoff: $0).silentAtLeast }
        #expect(silences == [.milliseconds(200), .milliseconds(600), .milliseconds(1400)])
    }

    @Test func garbageListsNothing() {
        #expect(StuckConnection.parse("not ss output\n\t backoff:9 bytes_sent:10 bytes_acked:1", pid: 1, backoff: 1).isEmpty)
        #expect(StuckConnection.parse("", pid: 1, backoff: 1).isEmpty)
    }
}
