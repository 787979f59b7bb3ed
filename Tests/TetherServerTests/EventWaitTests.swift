import ClusterStore
import Foundation
import Testing
import TetherModel
@testable import Controller

/// `events(after:wait:)`, which every open web page and `tether events --follow` waits in: an
/// event ends the wait at once, a quiet wait ends at its time, a cancelled one at once.
struct EventWaitTests {
    static func controller() async throws -> Controller {
        let (store, _) = try ClusterFixtures.temporaryStore()
        return try await Controller(store: store, connect: { UnreachableAgent(host: $0.host) })
    }

    @Test func aWaitEndsAtTheNextEventNotAtItsTime() async throws {
        let controller = try await Self.controller()
        let started = ContinuousClock.now
        let waiting = Task { await controller.events(after: 0, wait: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(200))
        await controller.note(ClusterEvent(at: Date(), kind: .host, host: "host-a", subject: "host-a", from: "healthy", to: "silent"))
        let page = await waiting.value
        #expect(page.events.map(\.to) == ["silent"] && page.next == 1)
        #expect(ContinuousClock.now - started < .seconds(10), "woken by the event, not by the 30 s")
    }

    @Test func aQuietWaitEndsAtItsTimeAndACancelledOneAtOnce() async throws {
        let controller = try await Self.controller()
        let quiet = await controller.events(after: 0, wait: .milliseconds(300))
        #expect(quiet.events.isEmpty && quiet.next == 0)

        let started = ContinuousClock.now
        let waiting = Task { await controller.events(after: 0, wait: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        #expect(await waiting.value.events.isEmpty)
        #expect(ContinuousClock.now - started < .seconds(10), "ended by the cancellation, not by the 30 s")

        // Many waiters at once, each woken by the one event.
        let many = (0..<20).map { _ in Task { await controller.events(after: 0, wait: .seconds(30)) } }
        try await Task.sleep(for: .milliseconds(200))
        await controller.note(ClusterEvent(at: Date(), kind: .host, host: "host-a", subject: "host-a", from: nil, to: "healthy"))
        for waiter in many { #expect(await waiter.value.events.count == 1) }
    }
}

extension Controller {
    /// An event as the health watch or the journal would log it.
    func note(_ event: ClusterEvent) { events.append(event) }
}
