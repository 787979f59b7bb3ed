import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// One storage path of a host cut (`ip link set st0 down`): the VM keeps running on its host, its
/// disk now on the other path, and the guest's sequence on the datastore's image has no gap and
/// never restarted: the write that failed on the dead path was issued again on the new one.
@Suite(.serialized, .requires(SharedLab.canRun, "root, QEMU, iproute2, qemu-storage-daemon and the built tetherd"), .sharedLab)
struct LabStoragePathTests {
    /// The sequence on vm-a's image, read while the VM is paused (a running guest rewrites
    /// sectors under the reader), then the VM resumed. (One QMP client per monitor socket: the
    /// test's own connection does it.)
    static func sequence(of vm: QEMUMachine, image: String) async throws -> CounterSequence {
        try await vm.pause()
        let read = Result { () throws(TetherError) -> CounterSequence in try LabGuestImage.sequence(of: image) }
        try await vm.resume()
        return try read.get()
    }

    @Test func aDeadPathMovesTheDiskAndTheWritesGoOn() async throws {
        try await SharedLab.waitFor("vm-a running with both of host-a's paths up") { status in
            status.vms.first { $0.name == "vm-a" }?.state == "running"
                && status.hosts.first { $0.name == "host-a" }?.datastores.first?.paths.map(\.state) == [.up, .up]
        }
        let status = try await SharedLab.status()
        let vm = try #require(status.vms.first { $0.name == "vm-a" })
        let monitor = try #require(vm.monitor)
        let image = SharedLab.layout.image(of: "vm-a")
        let machine = try await QEMUMachine.adopt(socketPath: monitor, name: "vm-a")
        defer { Task { await machine.qmp.close() } }
        // The guest boots first (SeaBIOS, then its own disk driver).
        var before = try await Self.sequence(of: machine, image: image)
        let booting = ContinuousClock.now
        while (before.maximum ?? 0) < 50, ContinuousClock.now - booting < .seconds(60) {
            try await Task.sleep(for: .milliseconds(200))
            before = try await Self.sequence(of: machine, image: image)
        }
        #expect(before.isContinuous, "\(before.verdict)")
        #expect(try await machine.diskPath() == NBDPath(host: "10.83.0.1", port: 10809))

        try await SharedLab.link("host-a", "st0", up: false)
        let detected = try await SharedLab.waitFor("host-a's first path down, its VM running on the second") { status in
            status.hosts.first { $0.name == "host-a" }?.datastores.first?.paths.map(\.state) == [.down, .up]
                && status.hosts.first { $0.name == "host-a" }?.networks[.storage]?.state == .partial
        }
        print("path down at the controller after \(detected)")
        let moved = ContinuousClock.now
        while try await machine.diskPath() != NBDPath(host: "10.84.0.1", port: 10809) {
            guard ContinuousClock.now - moved < .seconds(20) else { Issue.record("vm-a's disk did not move to the second path"); return }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await machine.waitForStatus(.running, timeout: .seconds(10))
        // Writes go on, over the second path, from where they were.
        try await Task.sleep(for: .seconds(2))
        let after = try await Self.sequence(of: machine, image: image)
        #expect(after.isContinuous, "the sequence on the image has a gap or restarted: \(after.verdict)")
        #expect((after.maximum ?? 0) > (before.maximum ?? 0) + 50, "the guest kept writing: \(before.maximum ?? 0) -> \(after.maximum ?? 0)")
        try await SharedLab.waitFor("vm-a running on host-a, as the controller sees it") { status in
            status.vms.first { $0.name == "vm-a" }.map { $0.host == "host-a" && $0.state == "running" } == true
        }

        try await SharedLab.link("host-a", "st0", up: true)
        try await SharedLab.waitFor("both of host-a's paths up again") { status in
            status.hosts.first { $0.name == "host-a" }?.datastores.first?.paths.map(\.state) == [.up, .up]
        }
    }
}
