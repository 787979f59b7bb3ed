import Foundation
import TetherModel
import TetherSystem
@testable import Health

/// What the real tests need: root and iproute2 for namespaces, qemu-nbd for an NBD server.
enum Requirements {
    static var root: Bool { getuid() == 0 && (try? Executable.find("ip", package: "iproute2")) != nil }
    static var qemuNBD: Bool { (try? Executable.find("qemu-nbd", package: "qemu-utils")) != nil }
}

/// Throwaway network namespaces with short names unique to a test (`th` + the test's tag), made
/// with `ip` and deleted by `remove()` (call it in a `defer`).
final class TestNamespaces: @unchecked Sendable {
    let tag: String
    private(set) var made: [String] = []

    init(_ tag: String) {
        self.tag = tag + String(UUID().uuidString.prefix(4)).lowercased()
    }

    func name(_ suffix: String) -> String { "th\(tag)\(suffix)" }

    @discardableResult
    func add(_ suffix: String) async throws -> String {
        let namespace = name(suffix)
        try await ip(["netns", "add", namespace])
        made.append(namespace)
        try await ip(["-n", namespace, "link", "set", "lo", "up"])
        return namespace
    }

    /// A veth pair between two namespaces, addressed and up.
    func link(_ a: String, _ aName: String, _ aAddress: String, _ b: String, _ bName: String, _ bAddress: String) async throws {
        try await ip(["link", "add", aName, "type", "veth", "peer", "name", bName])
        try await ip(["link", "set", aName, "netns", a])
        try await ip(["link", "set", bName, "netns", b])
        try await ip(["-n", a, "addr", "add", aAddress, "dev", aName])
        try await ip(["-n", b, "addr", "add", bAddress, "dev", bName])
        try await ip(["-n", a, "link", "set", aName, "up"])
        try await ip(["-n", b, "link", "set", bName, "up"])
    }

    /// Runs `ip` on a thread of its own: a blocking spawn and wait on the shared pool (two
    /// threads here) held the monitors' tasks back for seconds while other suites ran.
    func ip(_ arguments: [String]) async throws {
        typealias Outcome = Result<(status: Int32, output: String), TetherError>
        let result = try await withCheckedContinuation { (done: CheckedContinuation<Outcome, Never>) in
            Thread {
                do throws(TetherError) {
                    done.resume(returning: .success(try ChildProcess.run(try Executable.find("ip", package: "iproute2"), arguments)))
                } catch {
                    done.resume(returning: .failure(error))
                }
            }.start()
        }.get()
        guard result.status == 0 else { throw TetherError(.io, "ip \(arguments.joined(separator: " ")): \(result.output)") }
    }

    private func ipNow(_ arguments: [String]) throws {
        let result = try ChildProcess.run(try Executable.find("ip", package: "iproute2"), arguments)
        guard result.status == 0 else { throw TetherError(.io, "ip \(arguments.joined(separator: " ")): \(result.output)") }
    }

    func remove() {
        for namespace in made.reversed() { _ = try? ipNow(["netns", "del", namespace]) }
        made = []
    }
}

/// A qemu-nbd serving one raw file as one export, optionally inside a namespace.
struct NBDServer {
    let process: ChildProcess
    let endpoint: NBDEndpoint
    let file: String

    static func start(export: String, size: Int, address: String = "127.0.0.1", port: Int,
                      namespace: String? = nil) async throws -> NBDServer {
        let file = "/tmp/health-io-\(UUID().uuidString.prefix(8)).raw"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        try FileHandle(forWritingTo: URL(fileURLWithPath: file)).truncate(atOffset: UInt64(size))
        let qemuNBD = try Executable.find("qemu-nbd", package: "qemu-utils")
        let arguments = ["-f", "raw", "-t", "-e", "16", "-b", address, "-p", "\(port)", "-x", export, "--cache=writeback", file]
        let process: ChildProcess
        if let namespace {
            let ip = try Executable.find("ip", package: "iproute2")
            process = try await ChildProcess.start(ip, ["netns", "exec", namespace, qemuNBD] + arguments)
        } else {
            process = try await ChildProcess.start(qemuNBD, arguments)
        }
        let server = NBDServer(process: process, endpoint: NBDEndpoint(host: address, port: UInt16(port), export: export), file: file)
        // Listening once a client gets through the handshake.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let client = try? NBDClient(server.endpoint, namespace: namespace) {
                client.disconnect()
                return server
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await server.stop()
        throw TetherError(.timeout, "qemu-nbd did not start serving \(server.endpoint)")
    }

    func stop() async {
        _ = await process.stop(grace: .seconds(2))
        try? FileManager.default.removeItem(atPath: file)
    }

    static func freePort() -> Int { Int.random(in: 20000...40000) }
}

/// An in-process TCP server on loopback that does whatever a test says with each connection:
/// garbage, silence, a cut reply. The server alone closes the connections (in `stop`): a behavior
/// that closed its descriptor after a sleep once closed a number another test's socket had been
/// given since (a netlink socket then read NBD greetings, and a child's pidfd went missing).
final class FakeServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var connections: [Int32] = []

    init(_ behavior: @escaping @Sendable (Int32) -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        listen(fd, 8)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) } }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread { [self] in
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                lock.withLock { connections.append(connection) }
                Thread { behavior(connection) }.start()
            }
        }.start()
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    static func receive(_ fd: Int32, _ count: Int) {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress.map { $0 + got }, count - got, 0) }
            if n <= 0 { return }
            got += n
        }
    }

    /// A correct greeting and an answer to NBD_OPT_GO with a 1 MiB export.
    static func handshake(_ fd: Int32, exportSize: UInt64 = 1 << 20) {
        var greeting = ByteWriter()
        greeting.u64(NBDProtocol.nbdMagic)
        greeting.u64(NBDProtocol.optionMagic)
        greeting.u16(3)
        send(fd, greeting.bytes)
        // Client flags, then the option's header (magic, NBD_OPT_GO, length) and its data:
        // the export name's length, the name, a zero count of infos.
        receive(fd, 4 + 16)
        var header = [UInt8](repeating: 0, count: 4)
        _ = header.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4, Int32(MSG_WAITALL)) }
        let nameLength = header.reduce(0) { $0 << 8 | Int($1) }
        receive(fd, nameLength + 2)
        var info = ByteWriter()
        info.u64(NBDProtocol.optionReplyMagic)
        info.u32(NBDProtocol.optionGo)
        info.u32(NBDProtocol.replyInfo)
        info.u32(12)
        info.u16(0)
        info.u64(exportSize)
        info.u16(1 | 4 | 8)
        info.u64(NBDProtocol.optionReplyMagic)
        info.u32(NBDProtocol.optionGo)
        info.u32(NBDProtocol.replyAck)
        info.u32(0)
        send(fd, info.bytes)
    }

    func stop() {
        lock.withLock {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
            for connection in connections {
                shutdown(connection, Int32(SHUT_RDWR))
                close(connection)
            }
        }
    }
}

/// Polls `condition` every 5 ms until it holds (returns how long that took) or `timeout` passes
/// (returns nil).
func waitFor(_ timeout: Duration, _ condition: () -> Bool) async -> Duration? {
    let started = ContinuousClock.now
    while ContinuousClock.now - started < timeout {
        if condition() { return ContinuousClock.now - started }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition() ? ContinuousClock.now - started : nil
}

extension Duration {
    var ms: String { String(format: "%.0f ms", timeInterval * 1000) }
}
