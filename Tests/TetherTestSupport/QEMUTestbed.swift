import Foundation
import Synchronization
import Hypervisor
import TetherModel
import TetherSystem
import USBRedirReplay

/// Real QEMU VMs for tests: a short-named run directory (unix socket paths are limited to 108
/// bytes), seeded RAM patterns, a boot sector that panics, free ports; and it quits every VM it
/// started when the test ends.
public final class QEMUTestbed: @unchecked Sendable {
    public let directory: String
    private var machines: [QEMUMachine] = []
    private let lock = NSLock()

    public static var isAvailable: Bool { Tools.which("qemu-system-x86_64") != nil }

    /// Runs `body` with a fresh testbed and always quits its VMs afterwards, failure or not.
    public static func with(_ body: (QEMUTestbed) async throws -> Void) async throws {
        let bed = try QEMUTestbed()
        do {
            try await body(bed)
        } catch {
            await bed.shutdown()
            throw error
        }
        await bed.shutdown()
    }

    public init() throws {
        directory = "/tmp/tq-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    public func launch(_ spec: VMSpec) async throws -> QEMUMachine {
        let machine = try await QEMUMachine.launch(spec, in: directory)
        lock.withLock { machines.append(machine) }
        return machine
    }

    /// The error a launch was refused with; nil when the VM started.
    public func launchRefusal(_ spec: VMSpec) async -> TetherError? {
        do {
            _ = try await launch(spec)
            return nil
        } catch {
            return error as? TetherError
        }
    }

    /// Quits every VM and removes the directory.
    public func shutdown() async {
        for machine in lock.withLock({ machines }) { try? await machine.quit() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// `size` bytes from a seeded generator, written to a file; returns the bytes.
    @discardableResult
    public func pattern(_ name: String, size: Int, seed: UInt64) throws -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        var bytes = [UInt8](repeating: 0, count: size)
        var i = 0
        while i < size {
            var word = generator.next()
            for _ in 0..<8 where i < size {
                bytes[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        return bytes
    }

    /// A 512-byte boot sector that tells the pvpanic device (I/O port 0x505) the guest panicked,
    /// then halts: `mov dx, 0x505; mov al, 1; out dx, al; cli; hlt; jmp $-2`.
    public func panickingBootSector(_ name: String) throws -> String {
        var sector = [UInt8](repeating: 0, count: 512)
        let code: [UInt8] = [0xBA, 0x05, 0x05, 0xB0, 0x01, 0xEE, 0xFA, 0xF4, 0xEB, 0xFD]
        sector.replaceSubrange(0..<code.count, with: code)
        sector[510] = 0x55
        sector[511] = 0xAA
        try Data(sector).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// qemu-img, to make disk images in other formats (Debian's qemu-utils).
    public static var hasImageTool: Bool { Tools.which("qemu-img") != nil }

    /// Converts the raw image `raw` (a path) into a qcow2 image `name` in the run directory; returns its path.
    public func qcow2Image(_ name: String, from raw: String) throws -> String {
        let tool = try Executable.find("qemu-img", package: "qemu-utils")
        let (status, output) = try ChildProcess.run(tool, ["convert", "-f", "raw", "-O", "qcow2", raw, path(name)])
        guard status == 0 else { throw TetherError(.io, "qemu-img convert failed (status \(status))", cause: output) }
        return path(name)
    }

    /// A TCP port on the loopback that nothing listens on at the moment of asking, and that no
    /// connection will take before its server binds it: it comes from outside the kernel's
    /// ephemeral range (a port the kernel picks for `bind(0)` is also one it gives to outgoing
    /// connections, such as one etcd member's to another's peer port, which made a member that
    /// started later fail to bind). Never the same port twice in one test process.
    public static func freePort() throws -> Int {
        guard let range = outsideEphemeral else {
            // Every port is the kernel's to give to connections: ask it for one, as before.
            let (fd, port) = try LoopbackListener.open()
            close(fd)
            return port
        }
        return try handedOut.withLock { handed in
            for _ in 0..<1_000 {
                let port = Int.random(in: range)
                guard !handed.contains(port), let (fd, _) = try? LoopbackListener.open(port: port) else { continue }
                close(fd)
                handed.insert(port)
                return port
            }
            throw TetherError(.busy, "no free loopback port in \(range)")
        }
    }

    private static let handedOut = Mutex<Set<Int>>([])

    /// At least a thousand ports outside `net.ipv4.ip_local_port_range` (by default 32768 to
    /// 60999): below it from 20000 when there is room, else above it; nil when it spans them all.
    private static let outsideEphemeral: ClosedRange<Int>? = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let (low, high) = bounds.count == 2 ? (bounds[0], bounds[1]) : (32_768, 60_999)
        if low - 20_000 >= 1_000 { return 20_000...(low - 1) }
        if 65_535 - high >= 1_000 { return (high + 1)...65_535 }
        return nil
    }()
}
