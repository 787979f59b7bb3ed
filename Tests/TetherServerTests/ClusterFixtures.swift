import ClusterStore
import Foundation
import TetherClient
import TetherModel
@testable import TetherServer
import TetherTestSupport

/// Two hosts as their agents would register them: host-a runs vm-a (100 Mbit/s, container c1);
/// host-b has the recorded webcam (C270, 24,677,000 B/s isochronous) and the recorded CH340
/// serial dongle. The figures are the probe's for those recordings (USBProbeTests prove them).
enum ClusterFixtures {
    static let webcam = RegisteredDevice(id: "1-3", vendorId: "046d", productId: "0825", serial: "6A1B2C3D", product: "Webcam C270",
                                         periodicBytesPerSecond: 24_677_000)
    static let dongle = RegisteredDevice(id: "1-4", vendorId: "1a86", productId: "7523", product: "USB Serial", periodicBytesPerSecond: 8_000)

    static let networks: [NetworkRole: NetworkLink] = [
        .management: NetworkLink(up: true, mbps: 1000), .migration: NetworkLink(up: true, mbps: 10000),
        .vm: NetworkLink(up: true, mbps: 1000), .storage: NetworkLink(up: true, mbps: 10000),
    ]

    static var hostA: AgentRegistration {
        AgentRegistration(host: "host-a", agentAddress: HostPort(host: "10.0.0.1", port: 7401), cpus: 8, memoryMiB: 16384,
                          networks: networks, datastores: ["ds1"], devices: [],
                          vms: [RegisteredVM(name: "vm-a", cpus: 1, memoryMiB: 128, networkMbps: 100, datastore: "ds1", containers: ["c1"])])
    }

    static var hostB: AgentRegistration {
        AgentRegistration(host: "host-b", agentAddress: HostPort(host: "10.0.0.2", port: 7401), cpus: 8, memoryMiB: 16384,
                          networks: networks, datastores: ["ds1"], devices: [webcam, dongle], vms: [])
    }

    static func temporaryStore() throws -> (SQLiteClusterStore, String) {
        let path = try Fixtures.temporaryDirectory().appendingPathComponent("tether.sqlite").path
        return (try SQLiteClusterStore(path: path), path)
    }
}

/// A clock tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}
