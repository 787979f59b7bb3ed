import Foundation
import TetherModel
import TetherTestKit
import Testing
@testable import Health

/// The kernel's link state inside a fresh namespace, followed over rtnetlink.
@Suite(.serialized, .requires(Requirements.root, "needs root and iproute2 to make network namespaces"))
struct LinkMonitorTests {
    @Test func aLinkSetDownAndItsPeerLosingCarrierAreSeenWithinMilliseconds() async throws {
        let namespaces = TestNamespaces("lm")
        defer { namespaces.remove() }
        let here = try await namespaces.add("a"), there = try await namespaces.add("b")
        let mine = "\(namespaces.name("a"))0", peer = "\(namespaces.name("b"))0"
        try await namespaces.link(here, mine, "10.251.8.1/30", there, peer, "10.251.8.2/30")
        let monitor = LinkMonitor(namespace: here)
        let running = Task { try await monitor.run() }
        #expect(await waitFor(.seconds(5)) { monitor.isReady } != nil)
        #expect(monitor.link(named: mine)?.isUp == true)
        #expect(monitor.link(named: "lo")?.isUp == true)
        #expect(monitor.link(named: peer) == nil, "the other namespace's links are not seen")
        #expect(try LinkMonitor.interface(carrying: "10.251.8.1", namespace: here)?.name == mine)
        #expect(try LinkMonitor.interface(carrying: "10.251.8.2", namespace: here) == nil)

        // Each fault's time, to be matched with the monitor's own time of the change it saw.
        var faults: [(what: String, at: Date, seen: @Sendable (LinkState) -> Bool)] = []
        func inject(_ what: String, _ arguments: [String], seen: @escaping @Sendable (LinkState) -> Bool) async throws {
            faults.append((what, Date(), seen))
            try await namespaces.ip(arguments)
            #expect(await waitFor(.seconds(3)) { monitor.link(named: mine).map(seen) ?? false } != nil,
                    "\(what) not seen: \(String(describing: monitor.link(named: mine)))")
        }
        try await inject("admin down", ["-n", here, "link", "set", mine, "down"]) { !$0.adminUp && !$0.isUp }
        try await inject("admin up", ["-n", here, "link", "set", mine, "up"]) { $0.isUp }
        try await inject("carrier lost", ["-n", there, "link", "set", peer, "down"]) { $0.adminUp && !$0.carrier && !$0.isUp }
        try await inject("carrier back", ["-n", there, "link", "set", peer, "up"]) { $0.isUp }

        // The changes stream carries them in order.
        var changes = monitor.changes.makeAsyncIterator()
        var seen: [LinkChange] = []
        // Everything above is buffered already: up, down, up, carrier lost, up again.
        while let change = await changes.next() {
            guard change.link.name == mine else { continue }
            seen.append(change)
            if seen.contains(where: { $0.link.adminUp && !$0.link.carrier }), change.link.isUp { break }
        }
        #expect(seen.last?.link.isUp == true)
        var latencies: [String] = []
        for fault in faults {
            let change = seen.first { $0.time >= fault.at && fault.seen($0.link) }
            let latency = change.map { String(format: "%.1f ms", $0.time.timeIntervalSince(fault.at) * 1000) } ?? "-"
            latencies.append("\(fault.what) \(latency)")
        }
        print("link monitor, from before `ip` runs to the change on the monitor's thread: \(latencies.joined(separator: ", "))")
        #expect(seen.contains { !$0.link.adminUp })
        #expect(seen.contains { $0.link.adminUp && !$0.link.carrier })
        running.cancel()
        try await running.value
    }
}
