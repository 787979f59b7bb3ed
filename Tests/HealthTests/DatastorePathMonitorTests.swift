import Foundation
import TetherModel
import TetherTestKit
import Testing
@testable import Health

/// A datastore path through a real link: a client namespace joined by a veth to a storage
/// namespace where qemu-nbd serves the heartbeat export. The link is taken down and up from
/// outside, as the lab injects faults.
@Suite(.serialized, .requires(Requirements.root && Requirements.qemuNBD, "needs root, iproute2 and qemu-nbd"))
struct DatastorePathMonitorTests {
    @Test func aPathGoesDownWithinTwoSecondsOfItsLinkAndUpAtTheNextWrite() async throws {
        let namespaces = TestNamespaces("pm")
        defer { namespaces.remove() }
        let storage = try await namespaces.add("s"), host = try await namespaces.add("h")
        let link = "\(namespaces.name("h"))0"
        try await namespaces.link(storage, "\(namespaces.name("s"))0", "10.251.7.1/30", host, link, "10.251.7.2/30")
        let server = try await NBDServer.start(export: DatastoreHeartbeats.export, size: HeartbeatSlots.regionSize,
                                               address: "10.251.7.1", port: 10809, namespace: storage)
        defer { try? FileManager.default.removeItem(atPath: server.file) }
        let monitor = DatastorePathMonitor(endpoint: try NBDEndpoint(uri: "nbd://10.251.7.1:10809"),
                                           writer: HeartbeatWriter(host: "host-a", path: 0), namespace: host)
        let running = Task { await monitor.run() }
        var changes = monitor.changes.makeAsyncIterator()
        let first = await changes.next()
        #expect(first?.state == .up)
        let up = try #require(monitor.lastHeartbeat)

        var downTimes: [Duration] = [], upTimes: [Duration] = []
        for _ in 0..<3 {
            let cut = ContinuousClock.now
            try await namespaces.ip(["-n", host, "link", "set", link, "down"])
            let down = await changes.next()
            #expect(down?.state == .down, "\(String(describing: down))")
            downTimes.append(ContinuousClock.now - cut)
            let restored = ContinuousClock.now
            try await namespaces.ip(["-n", host, "link", "set", link, "up"])
            let back = await changes.next()
            #expect(back?.state == .up)
            upTimes.append(ContinuousClock.now - restored)
        }
        #expect((monitor.lastHeartbeat?.sequence ?? 0) > up.sequence)
        print("path monitor: link down -> path down in \(downTimes.map(\.ms)), link up -> path up in \(upTimes.map(\.ms))")
        #expect(downTimes.allSatisfy { $0 >= .milliseconds(1400) && $0 < .milliseconds(3000) }, "\(downTimes)")
        #expect(upTimes.allSatisfy { $0 < .milliseconds(1500) }, "\(upTimes)")
        running.cancel()
        await running.value
        await server.stop()
    }

    @Test func aPathToAServerThatIsNotThereIsDownAfterTheTimeout() async throws {
        let monitor = DatastorePathMonitor(endpoint: NBDEndpoint(host: "127.0.0.1", port: 1, export: DatastoreHeartbeats.export),
                                           writer: HeartbeatWriter(host: "host-a", path: 0),
                                           settings: .init(period: .milliseconds(100), downAfter: .milliseconds(500)))
        let started = ContinuousClock.now
        let running = Task { await monitor.run() }
        var changes = monitor.changes.makeAsyncIterator()
        let change = await changes.next()
        #expect(change?.state == .down)
        #expect(change?.reason?.contains("refused") == true, "\(String(describing: change?.reason))")
        #expect(ContinuousClock.now - started < .milliseconds(900))
        running.cancel()
        await running.value
    }
}
