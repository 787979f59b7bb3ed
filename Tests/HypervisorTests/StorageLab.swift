import Foundation
import Hypervisor
import Lab
import TetherModel
import TetherSystem
import TetherTestSupport

/// A datastore and a host in network namespaces: the storage namespace runs a `StorageServer`
/// on 0.0.0.0; the host namespace reaches it over two links (two paths), 10.91.1.0/30 and
/// 10.91.2.0/30, with `tcp_retries2=2` so that a dead path fails a pending write in about 1.5 s,
/// and keep-alive after 2 s so that a write whose reply was lost fails too.
/// QEMU runs in the host namespace.
struct StorageLab {
    let tag: String
    var storage: String { "nd\(tag)s" }
    var host: String { "nd\(tag)h" }
    /// The host's side of each storage link, to take down.
    func hostLink(_ index: Int) -> String { "nd\(tag)h\(index)" }
    func storageLink(_ index: Int) -> String { "nd\(tag)s\(index)" }
    let paths = [NBDPath(host: "10.91.1.1"), NBDPath(host: "10.91.2.1")]

    static var canRun: Bool {
        getuid() == 0 && Tools.which("ip") != nil && Tools.which("qemu-storage-daemon") != nil
            && Tools.which("qemu-system-x86_64") != nil
    }

    init() throws {
        tag = String(UUID().uuidString.prefix(5)).lowercased()
        do {
            try ip(["netns", "add", storage])
            try ip(["netns", "add", host])
            for index in 0..<2 {
                try ip(["link", "add", storageLink(index), "type", "veth", "peer", "name", hostLink(index)])
                try ip(["link", "set", storageLink(index), "netns", storage])
                try ip(["link", "set", hostLink(index), "netns", host])
                try ip(["-n", storage, "addr", "add", "10.91.\(index + 1).1/30", "dev", storageLink(index)])
                try ip(["-n", host, "addr", "add", "10.91.\(index + 1).2/30", "dev", hostLink(index)])
                try ip(["-n", storage, "link", "set", storageLink(index), "up"])
                try ip(["-n", host, "link", "set", hostLink(index), "up"])
            }
            for namespace in [storage, host] { try ip(["-n", namespace, "link", "set", "lo", "up"]) }
            // Per namespace, and it applies to sockets already open. Keep-alive applies to the
            // sockets opened after, as the lab's hosts have it (StorageTimeouts).
            try ip(["netns", "exec", host, "sysctl", "-q", "-w", "net.ipv4.tcp_retries2=2"])
            for (name, value) in StorageTimeouts.keepAlive { try ip(["netns", "exec", host, "sysctl", "-q", "-w", "\(name)=\(value)"]) }
            // The server gives up on a cut-off client as the lab's does.
            try ip(["netns", "exec", storage, "sysctl", "-q", "-w", "net.ipv4.tcp_retries2=2"])
        } catch {
            remove()
            throw error
        }
    }

    func remove() {
        for namespace in [storage, host] { try? ip(["netns", "del", namespace]) }
    }

    func ip(_ arguments: [String]) throws {
        let result = try ChildProcess.run(Tools.which("ip") ?? "/usr/sbin/ip", arguments)
        guard result.status == 0 else { throw TetherError(.io, "ip \(arguments.joined(separator: " ")): \(result.output)") }
    }

    /// Runs `body` with a storage server serving `vm-1` (a 16 MiB image holding `bootSector`)
    /// and `tether-heartbeats`, and a testbed for VMs; stops everything after, failure or not.
    static func with(bootSector: [UInt8],
                     _ body: (StorageLab, StorageServer, QEMUTestbed, String) async throws -> Void) async throws {
        let lab = try StorageLab()
        defer { lab.remove() }
        try await QEMUTestbed.with { bed in
            let image = bed.path("vm-1.raw"), heartbeats = bed.path("heartbeats.raw")
            try StorageServer.createImage(at: image, bytes: 16 << 20)
            try StorageServer.createImage(at: heartbeats, bytes: StorageServer.heartbeatBytes)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: image))
            try handle.write(contentsOf: Data(bootSector))
            try handle.close()
            let server = try await StorageServer.start(
                exports: [.init(name: "vm-1", image: image), .init(name: StorageServer.heartbeatExport, image: heartbeats)],
                networkNamespace: lab.storage, directory: bed.directory)
            do {
                try await body(lab, server, bed, image)
            } catch {
                await bed.shutdown()
                await server.stop()
                throw error
            }
            await bed.shutdown()
            await server.stop()
        }
    }

    /// A VM booting `vm-1` in the host namespace over the given paths.
    func spec(paths: [NBDPath]? = nil) throws -> VMSpec {
        var spec = VMSpec(name: "nd-\(tag)", memoryMiB: 64, usbController: false)
        spec.networkDisk = try NetworkDisk(paths: paths ?? self.paths, export: "vm-1")
        spec.networkNamespace = host
        return spec
    }
}

/// A 512-byte guest that writes counter N into every word of sector N, for N = 1, 2, ... 31999,
/// through BIOS int 13h (extended write) on its boot disk, retrying a write that fails; then it
/// halts. About 300 writes a second under KVM. (A stand-in for the lab guest.)
enum CounterGuest {
    static let code: [UInt8] = [
        0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0xfb, 0x88, 0x16, 0x41, 0x7c, 0x66, 0xa1, 0x4c,
        0x7c, 0xbf, 0x00, 0x80, 0xb9, 0x80, 0x00, 0xfc, 0xf3, 0x66, 0xab, 0xbe, 0x44, 0x7c, 0xb4, 0x43, 0xb0, 0x00, 0x8a, 0x16,
        0x41, 0x7c, 0xcd, 0x13, 0x72, 0xe3, 0x66, 0xff, 0x06, 0x4c, 0x7c, 0x66, 0x81, 0x3e, 0x4c, 0x7c, 0x00, 0x7d, 0x00, 0x00,
        0x72, 0xd3, 0xf4, 0xeb, 0xfd, 0x00, 0x90, 0x90, 0x10, 0x00, 0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x01,
    ]

    static var bootSector: [UInt8] { code + [UInt8](repeating: 0, count: 510 - code.count) + [0x55, 0xAA] }

    /// What the image holds: the highest counter written, and every sector that breaks the
    /// sequence (a written sector holding another number, or a hole below the highest).
    static func read(_ image: String) throws -> (highest: Int, breaks: [Int]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: image))
        var highest = 0, breaks: [Int] = [], holes: [Int] = []
        data.withUnsafeBytes { raw in
            for sector in 1..<(raw.count / 512) {
                var zero = true, counter = true
                for word in 0..<128 {
                    let value = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: sector * 512 + word * 4, as: UInt32.self))
                    if value != 0 { zero = false }
                    if value != UInt32(sector) { counter = false }
                }
                if zero {
                    holes.append(sector)
                    continue
                }
                if !counter { breaks.append(sector) }
                highest = sector
            }
        }
        return (highest, (breaks + holes.filter { $0 < highest }).sorted())
    }

    /// The sequence as far as it is settled while the guest writes: a read races the writes (a
    /// sector read before the guest wrote it, and the next ones after, look like a hole), so
    /// the image is read twice, and every sector up to the first read's highest, written before
    /// that read ended (the guest writes in order, each after the last completed), must hold
    /// its counter in the second.
    static func settled(_ image: String) throws -> (highest: Int, breaks: [Int]) {
        let first = try read(image).highest
        return (first, try read(image).breaks.filter { $0 <= first })
    }

    /// Waits until the guest has written past `counter`, or throws at the deadline.
    static func waitForProgress(_ image: String, past counter: Int, timeout: Duration) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            let highest = try read(image).highest
            if highest > counter { return highest }
            guard ContinuousClock.now < deadline else {
                throw TetherError(.timeout, "the guest wrote no counter past \(counter) (at \(highest)) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
