import ClusterStore
import Foundation
import Testing
import TetherModel
@testable import Controller

/// Devices come back by themselves, against simulated hosts: a device pulled out while attached
/// is lost, and given again when it is plugged in (at its port, or by serial at another); an
/// agent that restarted, or a VM that started over, gets its attachments' exports and channels
/// again; a detach in between is never undone.
struct DevicesComeBackTests {
    let cluster: SimulatedCluster
    var world: SimulatedHosts { cluster.world }
    init() throws { cluster = try SimulatedCluster() }

    static let session = "vm-a/host-b/1-4"

    func hostB(devices: [RegisteredDevice] = [ClusterFixtures.webcam, ClusterFixtures.dongle], started: Date? = nil) -> AgentRegistration {
        var r = ClusterFixtures.hostB
        r.devices = devices
        r.agentStarted = started
        return r
    }

    /// The dongle forwarded from host-b to vm-a on host-a.
    func forwarded() async throws -> Controller {
        let controller = try await cluster.registered()
        let response = try await controller.attach(AttachRequest(container: "c1", device: .port(DeviceRef(host: "host-b", id: "1-4"))))
        let record = try await cluster.finished(controller, try #require(response.operation).id)
        #expect(record.state == .completed)
        await world.clearCalls()
        return controller
    }

    func attachment(_ controller: Controller) async throws -> DeviceAttachment? { try await controller.status().attachments.first }

    /// One round of giving, to its end (tetherd's HealthWatch does not wait for it).
    func give(_ controller: Controller) async {
        for task in await controller.giveDevicesBack() { await task.value }
    }

    @Test func aDevicePulledOutIsLostAndGivenAgainWhenPluggedBackIn() async throws {
        let controller = try await forwarded()
        #expect(try await attachment(controller)?.identity == .product(vendorId: "1a86", productId: "7523", serial: nil))
        try await controller.register(hostB(devices: [ClusterFixtures.webcam]))
        let lost = try #require(try await attachment(controller))
        #expect(lost.lost?.hasPrefix("unplugged from host-b at ") == true, "\(lost.lost ?? "not lost")")
        await give(controller)
        #expect(await world.calls.isEmpty, "nothing is given while the device is away")
        // A restarted controller reads it as lost too.
        #expect(try await SQLiteClusterStore(path: cluster.path).attachments().first?.lost != nil)

        var back = ClusterFixtures.dongle
        back.address = 9   // a new address, as at every replug
        try await controller.register(hostB(devices: [ClusterFixtures.webcam, back]))
        #expect(try await attachment(controller)?.lost == nil)
        await give(controller)
        #expect(await world.calls == ["export:host-b", "openChannel:host-a"])
        let events = await controller.events(after: 0, wait: .zero).events.filter { $0.kind == .device }.map(\.to)
        #expect(events == ["lost", "back", "given"])
    }

    @Test func anotherProductAtThePortIsNotTheDevice() async throws {
        let controller = try await forwarded()
        let stranger = RegisteredDevice(id: "1-4", vendorId: "0bda", productId: "2838", periodicBytesPerSecond: 0)
        try await controller.register(hostB(devices: [ClusterFixtures.webcam, stranger]))
        #expect(try await attachment(controller)?.lost != nil, "an SDR in the dongle's port is not the dongle")
    }

    @Test func aDeviceWithASerialIsFoundAtAnotherPort() async throws {
        let controller = try await cluster.registered()
        var webcam = ClusterFixtures.webcam   // serial 6A1B2C3D
        webcam.periodicBytesPerSecond = 1_000   // small enough to be forwarded
        try await controller.register(hostB(devices: [webcam, ClusterFixtures.dongle]))
        let response = try await controller.attach(AttachRequest(container: "c1", device: .port(DeviceRef(host: "host-b", id: "1-3"))))
        _ = try await cluster.finished(controller, try #require(response.operation).id)
        await world.clearCalls()
        var moved = webcam
        moved.id = "2-1"
        try await controller.register(hostB(devices: [moved, ClusterFixtures.dongle]))
        let attachment = try #require(try await attachment(controller))
        #expect(attachment.id == "vm-a/host-b/2-1" && attachment.lost == nil)
        await give(controller)
        #expect(Set(await world.calls) == ["closeChannel:host-a", "stopExport:host-b", "export:host-b", "openChannel:host-a"])
        #expect(await world.exports["host-b"] == ["vm-a/host-b/2-1"])
        #expect(try await SQLiteClusterStore(path: cluster.path).attachments().map(\.id) == ["vm-a/host-b/2-1"])
    }

    @Test func anAgentThatRestartedIsGivenItsAttachmentsAgain() async throws {
        let controller = try await forwarded()
        try await controller.register(hostB(started: Date(timeIntervalSince1970: 1)))
        try await controller.register(hostB(started: Date(timeIntervalSince1970: 1)))
        await give(controller)
        #expect(await world.calls == ["export:host-b", "openChannel:host-a"], "once per restart, not per registration")
        await world.clearCalls()
        var hostA = ClusterFixtures.hostA
        hostA.agentStarted = Date(timeIntervalSince1970: 2)
        try await controller.register(hostA)
        await give(controller)
        #expect(await world.calls == ["export:host-b", "openChannel:host-a"], "the VM's host restarted: its channel end is made again")
    }

    @Test func aVMThatStartedOverGetsItsDevicesAgain() async throws {
        let controller = try await forwarded()
        var hostA = ClusterFixtures.hostA
        hostA.vms[0].status = .guestPanicked
        try await controller.register(hostA)
        await give(controller)
        #expect(await world.calls.isEmpty)
        hostA.vms[0].status = .running
        try await controller.register(hostA)
        await give(controller)
        #expect(await world.calls == ["export:host-b", "openChannel:host-a"])
    }

    @Test func aFailedGiveIsTriedAgainAndADetachIsNeverUndone() async throws {
        let controller = try await forwarded()
        try await controller.register(hostB(started: Date(timeIntervalSince1970: 1)))
        await world.fail("export:host-b", with: [TetherError(.io, "not yet")])
        await give(controller)
        #expect(await world.calls == ["export:host-b"])
        let detach = try await controller.detach(DetachRequest(container: "c1"))
        _ = try await cluster.finished(controller, try #require(detach.operations.first).id)
        await world.clearCalls()
        try await Task.sleep(for: .seconds(2.1))
        await give(controller)
        #expect(await world.calls.isEmpty, "the detached device is not given again")
        try await controller.register(hostB(devices: [ClusterFixtures.webcam]))
        #expect(try await controller.status().attachments.isEmpty, "and nothing is brought back by a registration")
    }
}
