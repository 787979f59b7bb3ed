import Foundation
import Hypervisor
import Lab
import TetherClient
import TetherModel
import TetherSystem

/// The demo's last chapter, on `tether lab`: two hosts with four networks and two storage paths
/// each, a VM of the lab guest writing its counter sequence to shared NBD storage; one storage
/// link of its host cut: the disk moves to the other path; then the other link: the VM is
/// suspended, moved to the other host and resumed there. The sequence goes on unbroken.
struct DemoStoragePath {
    let directory: String
    let binaries: String
    let timeline: Timeline

    func run() async throws {
        let cluster = LabCluster(layout: try LabLayout(directory: "\(directory)/lab", hosts: 2), binaries: binaries)
        timeline.say("tether lab up --hosts 2: hosts in namespaces tl-host-a, tl-host-b with links mgmt0 mig0 vm0 st0 st1, "
                     + "an NBD server in tl-storage, each VM's disk on datastore ds1")
        try cluster.checkNoneUp()
        do {
            try await cluster.up { timeline.detail([$0]) }
            try await chapter(cluster)
        } catch {
            cluster.down()
            throw error
        }
        cluster.down()
        timeline.say("tether lab down")
    }

    private func chapter(_ cluster: LabCluster) async throws {
        let client = cluster.client()
        defer { Task { await client.api.close() } }
        guard let monitor = try await client.status().vms.first(where: { $0.name == "vm-a" })?.monitor else {
            throw TetherError(.notFound, "vm-a has no operator QMP socket in the lab")
        }
        let vm = try await QEMUMachine.adopt(socketPath: monitor, name: "vm-a")
        defer { Task { await vm.qmp.close() } }
        let image = cluster.layout.image(of: "vm-a")
        // Until the guest has booted and written a while (QEMU's count; no pause needed for that).
        let deadline = ContinuousClock.now + .seconds(60)
        while try await writes(vm) < 100, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let before = try await sequence(vm, image)
        timeline.say("vm-a's guest writes its counter to the datastore: \(before.maximum ?? 0) writes so far, "
                     + "sequence \(before.isContinuous ? "continuous" : "BROKEN"), disk on \(try await vm.diskPath()?.description ?? "?")")
        let after = try await client.events(after: 0).next
        timeline.say("cut host-a's first storage link: ip -n tl-host-a link set st0 down")
        let cut = ContinuousClock.now
        let result = try ChildProcess.run(try Executable.find("ip", package: "iproute2"), ["-n", "tl-host-a", "link", "set", "st0", "down"])
        guard result.status == 0 else { throw TetherError(.io, "ip link set st0 down: \(result.output)") }
        let second = NBDPath(host: "10.84.0.1", port: LabLayout.nbdPort)
        while true {
            let path = try await vm.diskPath()
            if path == second, try await vm.status() == .running { break }
            guard ContinuousClock.now - cut < .seconds(30) else { throw TetherError(.timeout, "vm-a's disk did not move to \(second)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let moved = ContinuousClock.now - cut
        timeline.say("vm-a's disk is on \(second) and the VM runs, \(moved.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))) after the cut")
        try await Task.sleep(for: .seconds(1))
        for event in try await client.events(after: after).events where event.host == "host-a" && event.kind != .operation {
            timeline.detail(["event: " + EventText.line(event)])
        }
        let later = try await sequence(vm, image)
        timeline.say("the guest's writes went on: \(later.maximum ?? 0) writes, sequence "
                     + (later.isContinuous ? "continuous (no write lost, none twice, memory kept)" : "BROKEN: \(later.verdict)"))
        guard later.isContinuous, (later.maximum ?? 0) > (before.maximum ?? 0) else {
            throw TetherError(.io, "the guest's sequence did not go on unbroken: \(later.verdict)")
        }
        try await storageNetworkLost(client, image: image, before: later)
    }

    /// The second link too: host-a has no path to the datastore left. Its agent suspends vm-a
    /// (its disk taken off the dead storage, the failed writes kept), moves its state to host-b
    /// over the migration network, and host-b resumes it, issuing the failed writes again.
    private func storageNetworkLost(_ client: ControllerClient, image: String, before: CounterSequence) async throws {
        let after = try await client.events(after: 0).next
        timeline.say("cut host-a's second storage link too: ip -n tl-host-a link set st1 down; host-a has no path to the datastore left")
        let cut = ContinuousClock.now
        let result = try ChildProcess.run(try Executable.find("ip", package: "iproute2"), ["-n", "tl-host-a", "link", "set", "st1", "down"])
        guard result.status == 0 else { throw TetherError(.io, "ip link set st1 down: \(result.output)") }
        var moved: VMStatus?
        while moved == nil {
            moved = try await client.status().vms.first { $0.name == "vm-a" && $0.host != "host-a" && $0.state == "running" }
            guard ContinuousClock.now - cut < .seconds(60) else { throw TetherError(.timeout, "vm-a did not run on another host within 60 s of the cut") }
            if moved == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let took = ContinuousClock.now - cut
        timeline.say("vm-a runs on \(moved?.host ?? "?"), \(took.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))) after the cut")
        try await Task.sleep(for: .seconds(1))
        for event in try await client.events(after: after).events where event.kind == .fault || event.kind == .operation {
            timeline.detail(["event: " + EventText.line(event)])
        }
        guard let monitor = moved?.monitor else { throw TetherError(.notFound, "vm-a has no operator QMP socket on \(moved?.host ?? "?")") }
        let vm = try await QEMUMachine.adopt(socketPath: monitor, name: "vm-a")
        defer { Task { await vm.qmp.close() } }
        try await Task.sleep(for: .seconds(1))
        let later = try await sequence(vm, image)
        timeline.say("the guest's writes went on from where they were: \(before.maximum ?? 0) -> \(later.maximum ?? 0) writes, sequence "
                     + (later.isContinuous ? "continuous (memory intact: no write lost, none twice, no restart)" : "BROKEN: \(later.verdict)"))
        guard later.isContinuous, (later.maximum ?? 0) > (before.maximum ?? 0) else {
            throw TetherError(.io, "the guest's sequence did not go on unbroken after the move: \(later.verdict)")
        }
    }

    private func writes(_ vm: QEMUMachine) async throws -> Int64 {
        let devices = try await vm.qmp.execute("query-blockstats").array ?? []
        return devices.compactMap { $0["stats"]?["wr_operations"]?.int }.reduce(0, +)
    }

    /// Read while the VM is paused: a running guest rewrites sectors under the reader.
    private func sequence(_ vm: QEMUMachine, _ image: String) async throws -> CounterSequence {
        try await vm.pause()
        let read = Result { () throws(TetherError) -> CounterSequence in try LabGuestImage.sequence(of: image) }
        try await vm.resume()
        return try read.get()
    }
}
