import ClusterStore
import Foundation
import Testing
import TetherModel
@testable import Controller

/// Observed bandwidth: the rates the devices' hosts report make each device's figure (the peak
/// of one-second rates within the window, saved with the device), an operator's profile stands
/// in before any traffic, and a forwarded device that stays above its VM's threshold is decided
/// again per the rebalance policy.
struct ObservedTrafficTests {
    let cluster: SimulatedCluster
    let clock = TestClock()
    init() throws { cluster = try SimulatedCluster() }

    static let dongleRef = DeviceRef(host: "host-b", id: "1-4")
    static let dongle = AttachRequest(container: "c1", device: .product(vendorId: "1a86", productId: "7523", serial: nil))
    static let session = "vm-a/host-b/1-4"

    func settings(_ policy: RebalancePolicy, after: TimeInterval = 10, profiles: [String: Int] = [:]) -> Controller.Settings {
        var settings = Controller.Settings(stepDeadline: 5)
        settings.devices = .init(rebalance: policy, rebalanceAfter: after, window: 60, profiles: profiles)
        return settings
    }

    /// The dongle forwarded to vm-a (100 Mbit/s allocated, threshold 50%), on its descriptors' 64 kbit/s.
    func forwarded(_ policy: RebalancePolicy) async throws -> Controller {
        let controller = try await cluster.registered(settings: settings(policy), now: clock.function)
        let response = try await controller.attach(Self.dongle)
        #expect(response.decision.action == .forward)
        let record = try await cluster.finished(controller, try #require(response.operation).id)
        #expect(record.state == .completed)
        return controller
    }

    /// host-b's heartbeats while the dongle streams at `rate` for `seconds`, one every half second.
    func stream(_ controller: Controller, _ rate: Int, for seconds: Double) async throws {
        for _ in 0..<Int(seconds * 2) {
            clock.advance(0.5)
            try await controller.heartbeat(host: "host-b", Heartbeat(traffic: [DeviceRate(device: "1-4", bytesPerSecond: rate)]))
            await controller.checkRebalance()
        }
    }

    // MARK: the figure

    @Test func theFigureIsThePeakWithinTheWindowAndOutlivesTheTraffic() {
        var book = TrafficBook()
        let t0 = Date(timeIntervalSince1970: 1_000)
        book.record(Self.dongleRef, bytesPerSecond: 5_000_000, at: t0, window: 60)
        book.record(Self.dongleRef, bytesPerSecond: 1_000_000, at: t0 + 30, window: 60)
        #expect(book.observed[Self.dongleRef]?.peakBytesPerSecond == 5_000_000)
        #expect(book.observed[Self.dongleRef]?.lastBytesPerSecond == 1_000_000)
        book.record(Self.dongleRef, bytesPerSecond: 2_000_000, at: t0 + 61, window: 60)
        #expect(book.observed[Self.dongleRef]?.peakBytesPerSecond == 2_000_000, "the 5 MB/s second fell out of the window")
        book.forget(Self.dongleRef)
        #expect(book.observed[Self.dongleRef]?.peakBytesPerSecond == 2_000_000, "no longer forwarded: the figure stays")
        // The channel carries the periodic endpoints' bytes too: bulk is what is beyond them.
        let bulk = book.bulk(of: ClusterFixtures.dongle, on: "host-b", profiles: ["1a86:7523": 9])
        #expect(bulk.bytesPerSecond == 2_000_000 - 8_000 && bulk.source == .observed)
        let other = RegisteredDevice(id: "1-9", vendorId: "1A86", productId: "7523", periodicBytesPerSecond: 0)
        #expect(book.bulk(of: other, on: "host-b", profiles: ["1a86:7523": 9]) == (9, .profile), "before any traffic, the profile")
        #expect(book.bulk(of: other, on: "host-b", profiles: [:]) == (0, .descriptors))
    }

    @Test func anotherDeviceAtThePortDoesNotInheritTheFigure() {
        var book = TrafficBook()
        let dongle = DeviceSelector.product(vendorId: "1a86", productId: "7523", serial: nil)
        book.record(Self.dongleRef, bytesPerSecond: 5_000_000, at: Date(timeIntervalSince1970: 1_000), window: 60, identity: dongle)
        #expect(book.bulk(of: ClusterFixtures.dongle, on: "host-b", profiles: [:]).source == .observed)
        let keyboard = RegisteredDevice(id: "1-4", vendorId: "046d", productId: "c31c", periodicBytesPerSecond: 8)
        #expect(book.bulk(of: keyboard, on: "host-b", profiles: [:]) == (0, .descriptors), "a keyboard in the dongle's port")
    }

    @Test func figuresAreSavedWhenTheyMoveNotEveryHeartbeat() {
        var book = TrafficBook()
        let t0 = Date(timeIntervalSince1970: 1_000)
        book.record(Self.dongleRef, bytesPerSecond: 1_000_000, at: t0, window: 60)
        #expect(book.dueForSaving(at: t0).map(\.peakBytesPerSecond) == [1_000_000], "a first figure is saved at once")
        book.record(Self.dongleRef, bytesPerSecond: 1_050_000, at: t0 + 1, window: 60)
        #expect(book.dueForSaving(at: t0 + 1).isEmpty, "5% is not worth a write")
        book.record(Self.dongleRef, bytesPerSecond: 3_000_000, at: t0 + 1.5, window: 60)
        #expect(book.dueForSaving(at: t0 + 1.5).isEmpty, "not twice within 2 s")
        #expect(book.dueForSaving(at: t0 + 2).map(\.peakBytesPerSecond) == [3_000_000])
        book.record(Self.dongleRef, bytesPerSecond: 3_100_000, at: t0 + 10, window: 60)
        #expect(book.dueForSaving(at: t0 + 10).isEmpty)
        #expect(book.dueForSaving(at: t0 + 33).map(\.peakBytesPerSecond) == [3_100_000], "a small change, after 30 s")
    }

    @Test func theWatchActsOnceAfterTheHoldAndAgainOnlyAfterFalling() {
        var watch = RebalanceWatch()
        let t0 = Date(timeIntervalSince1970: 1_000)
        #expect(watch.update(above: ["a"], at: t0, hold: 5) == [.rose("a")])
        #expect(watch.update(above: ["a"], at: t0 + 4.9, hold: 5) == [])
        #expect(watch.update(above: ["a"], at: t0 + 5, hold: 5) == [.due("a")])
        #expect(watch.update(above: ["a"], at: t0 + 20, hold: 5) == [], "acted on: not again while it stays above")
        watch.retry("a")
        #expect(watch.update(above: ["a"], at: t0 + 21, hold: 5) == [.due("a")], "an attempt that could not start is due again")
        #expect(watch.update(above: [], at: t0 + 22, hold: 5) == [.fell("a")])
        #expect(watch.update(above: ["a"], at: t0 + 23, hold: 0) == [.rose("a"), .due("a")])
    }

    // MARK: the decision

    @Test func aProfileDecidesBeforeAnyTrafficWasSeen() async throws {
        let controller = try await cluster.registered(settings: settings(.off, profiles: ["1a86:7523": 10_000_000]), now: clock.function)
        let decision = try await controller.decide(Self.dongle)
        #expect(decision.action == .migrate, "80 Mbit/s of a 100 Mbit/s allocation: \(decision.reasons)")
        #expect(decision.requiredBitsPerSecond == (8_000 + 10_000_000) * 8)
        #expect(decision.reasons.first?.contains("configured profile") == true, "\(decision.reasons)")
    }

    @Test func whatADeviceUsedDecidesItsNextAttachEvenAfterARestart() async throws {
        let controller = try await forwarded(.off)
        try await stream(controller, 8_000_000, for: 2)
        let detach = try await controller.detach(DetachRequest(container: "c1"))
        _ = try await cluster.finished(controller, try #require(detach.operations.first).id)
        // A new controller on the same store: the figure was saved with the device.
        let again = try await cluster.controller(settings: settings(.off), now: clock.function)
        let decision = try await again.decide(Self.dongle)
        #expect(decision.action == .migrate, "\(decision.reasons)")
        #expect(decision.requiredBitsPerSecond == 8_000_000 * 8)
        #expect(decision.reasons.first?.contains("was seen to use 64 Mbit/s") == true, "\(decision.reasons)")
        let figures = try #require(try await again.status().devices.first { $0.device == Self.dongleRef })
        #expect(figures.source == .observed && figures.periodicBytesPerSecond == 8_000 && figures.observed?.peakBytesPerSecond == 8_000_000)
    }

    @Test func autoMigratesTheVMToADeviceThatStaysAboveTheThreshold() async throws {
        let controller = try await forwarded(.auto)
        try await stream(controller, 8_000_000, for: 9.5)
        #expect(try await controller.status().operations.isEmpty, "not yet: 9.5 s of the 10 s hold")
        try await stream(controller, 8_000_000, for: 1)
        let status = try await controller.status()
        let operation = try #require(status.operations.first, "the re-decision journaled a migration")
        #expect(operation.decision?.action == .migrate && operation.decision?.rebalance == true)
        #expect(operation.migrationTarget == "host-b")
        let record = try await cluster.finished(controller, operation.id)
        #expect(record.state == .completed, "\(record.error ?? "")")
        #expect(await cluster.world.hosts(running: "vm-a") == ["host-b"])
        let attachment = try #require(try await controller.status().attachments.first)
        #expect(attachment.id == Self.session && attachment.mode == .local && attachment.vmHost == "host-b")
        #expect(await cluster.world.exports["host-b"] == [Self.session], "the device's stream was never stopped")
        try await stream(controller, 8_000_000, for: 12)
        #expect(try await SQLiteClusterStore(path: cluster.path).recentOperations(limit: 50).filter { $0.decision?.rebalance == true }.count == 1, "a local device is not moved again")
        let events = await controller.events(after: 0, wait: .zero).events.filter { $0.kind == .device }
        #expect(events.map(\.to) == ["above-threshold", "migrating", "under-threshold"], "\(events.map(\.to))")
    }

    @Test func aRebalanceThatFailsLeavesTheChannelThatWasThere() async throws {
        let controller = try await forwarded(.auto)
        await cluster.world.fail("startMigration:host-a", with: [TetherError(.unsupported, "the target refused the stream")])
        try await stream(controller, 8_000_000, for: 10.5)
        let operation = try #require(try await controller.status().operations.first)
        let record = try await cluster.finished(controller, operation.id)
        #expect(record.state == .rolledBack)
        #expect(!record.steps.contains { $0.step == "close-channel" || $0.step == "stop-export" }, "\(record.steps.map(\.step))")
        #expect(await cluster.world.exports["host-b"] == [Self.session])
        #expect(await cluster.world.channels["host-a"] == [Self.session])
        let attachment = try #require(try await controller.status().attachments.first)
        #expect(attachment.mode == .forward && attachment.vmHost == "host-a")
    }

    @Test func adviseSaysWhatItWouldDoAndMovesNothing() async throws {
        let controller = try await forwarded(.advise)
        try await stream(controller, 8_000_000, for: 11)
        let status = try await controller.status()
        #expect(status.operations.isEmpty)
        let figures = try #require(status.devices.first { $0.device == Self.dongleRef })
        #expect(figures.advice == "migrate vm-a to host-b (`rebalance: auto` would)", "\(figures.advice ?? "none")")
        #expect(figures.aboveThresholdSince != nil && figures.requiredBitsPerSecond == 64_000_000)
        let events = await controller.events(after: 0, wait: .zero).events.filter { $0.kind == .device }
        #expect(events.map(\.to) == ["above-threshold", "advise-migrate"])
        // Traffic back under the threshold: the advice goes with it.
        try await stream(controller, 1_000, for: 61)
        #expect(try await controller.status().devices.first { $0.device == Self.dongleRef }?.advice == nil)
    }

    @Test func offIgnoresIt() async throws {
        let controller = try await forwarded(.off)
        try await stream(controller, 8_000_000, for: 11)
        #expect(try await controller.status().operations.isEmpty)
        #expect(await controller.events(after: 0, wait: .zero).events.filter { $0.kind == .device }.isEmpty)
    }
}

import Agent

/// The agent's early heartbeat: a rate that moved by a quarter (and 100 kB/s), or a device
/// forwarded from now on or no longer, goes at once.
struct TrafficReportTests {
    @Test func aRateThatMovedGoesAtOnceAndSmallWobblesWait() {
        var report = TrafficReport()
        #expect(!report.moved([]))
        #expect(report.moved([DeviceRate(device: "1-4", bytesPerSecond: 0)]), "a device forwarded from now on")
        report.sending([DeviceRate(device: "1-4", bytesPerSecond: 0)])
        #expect(!report.moved([DeviceRate(device: "1-4", bytesPerSecond: 50_000)]), "under 100 kB/s of change")
        #expect(report.moved([DeviceRate(device: "1-4", bytesPerSecond: 2_000_000)]))
        report.sending([DeviceRate(device: "1-4", bytesPerSecond: 2_000_000)])
        #expect(!report.moved([DeviceRate(device: "1-4", bytesPerSecond: 2_400_000)]), "20%")
        #expect(report.moved([DeviceRate(device: "1-4", bytesPerSecond: 2_600_000)]), "30%")
        #expect(report.moved([]), "a device that stopped being forwarded")
    }
}
