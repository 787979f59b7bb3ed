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
        let here = try namespaces.add("a"), there = try namespaces.add("b")
        let mine = "\(namespaces.name("a"))0", peer = "\(namespaces.name("b"))0"
        try namespaces.link(here, mine, "10.251.8.1/30", there, peer, "10.251.8.2/30")
        let monitor = LinkMonitor(namespace: here)
        let running = Task { try await monitor.run() }
        #expect(await waitFor(.seconds(2)) { monitor.isReady } != nil)
        #expect(monitor.link(named: mine)?.isUp == true)
        #expect(monitor.link(named: "lo")?.isUp == true)
        #expect(monitor.link(named: peer) == nil, "the other namespace's links are not seen")
        #expect(try LinkMonitor.interface(carrying: "10.251.8.1", namespace: here)?.name == mine)
        #expect(try LinkMonitor.interface(carrying: "10.251.8.2", namespace: here) == nil)

        var latencies: [String: Duration] = [:]
        func measure(_ what: String, _ arguments: [String], until condition: @escaping () -> Bool) async throws {
            let started = ContinuousClock.now
            try namespaces.ip(arguments)
            let ipTook = ContinuousClock.now - started
            let seen = await waitFor(.seconds(2), condition)
            #expect(seen != nil, "\(what) not seen: \(String(describing: monitor.link(named: mine)))")
            latencies[what] = seen.map { ipTook + $0 }
        }
        try await measure("admin down", ["-n", here, "link", "set", mine, "down"]) { monitor.link(named: mine)?.adminUp == false }
        #expect(monitor.link(named: mine)?.isUp == false)
        try await measure("admin up", ["-n", here, "link", "set", mine, "up"]) { monitor.link(named: mine)?.isUp == true }
        try await measure("carrier lost", ["-n", there, "link", "set", peer, "down"]) {
            monitor.link(named: mine).map { $0.adminUp && !$0.carrier && !$0.isUp } ?? false
        }
        try await measure("carrier back", ["-n", there, "link", "set", peer, "up"]) { monitor.link(named: mine)?.isUp == true }
        print("link monitor (including the `ip` command's own run): \(latencies.mapValues(\.ms))")

        // The changes stream carries them in order.
        var changes = monitor.changes.makeAsyncIterator()
        var seen: [LinkChange] = []
        // Everything above is buffered already: up, down, up, carrier lost, up again.
        while let change = await changes.next() {
            guard change.link.name == mine else { continue }
            seen.append(change)
            if seen.contains(where: { $0.link.adminUp && !$0.link.carrier }), change.link.isUp { break }
        }
        #expect(seen.first?.link.isUp == true)
        #expect(seen.contains { !$0.link.adminUp })
        #expect(seen.contains { $0.link.adminUp && !$0.link.carrier })
        running.cancel()
        try await running.value
    }
}
