import ArgumentParser
import Channel
import Foundation
import TetherTestSupport
import USBRedirReplay

/// The channel's two ends (connect, serve) on loopback next to the same pair of socat (plain)
/// and stunnel (TLS 1.3, client certificates verified) processes, and of the floor (the least
/// a user-space relay can do, `FloorRelay`): bulk throughput and the round trip a 64-byte
/// request/response adds, as a serial dongle talks.
struct RelayBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "relay", abstract: "Relay vs socat (plain) and stunnel (TLS).")
    @Option(help: "Bytes per throughput run.") var bytes = 1 << 30
    @Option(help: "Throughput runs per path.") var runs = 3
    @Option(help: "64-byte request/response round trips per path.") var messages = 10_000
    @Option(help: "Only these paths besides the direct one (comma-separated: plain, socat, floor, tls, stunnel), to profile one alone.")
    var paths = "plain,socat,floor,tls,stunnel"

    struct Path {
        var name: String
        var sinkPort: Int
        var echoPort: Int
    }

    /// One path's figures; RTTs are what the path adds to the direct one.
    struct Row {
        var name: String
        var throughput: Double
        var p50: Double
        var p99: Double
    }

    func run() async throws {
        let rows = try await measure()
        print("Relay on loopback, \(bytes >> 20) MiB per throughput run (median of \(runs)), \(messages) x 64-byte request/response per path, the paths taking turns")
        print(pad("path", 26) + pad("throughput (MB/s)", 20) + pad("added RTT p50 (us)", 20) + "added RTT p99 (us)")
        for row in rows {
            let direct = row.name == Self.direct
            print(pad(row.name, 26) + pad(fixed(row.throughput, 0), 20) + pad(direct ? "-" : fixed(row.p50, 1), 20) + (direct ? "-" : fixed(row.p99, 1)))
        }
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0.throughput) })
        if let plain = byName[Self.plain], let socat = byName[Self.socat], let tls = byName[Self.tls], let stunnel = byName[Self.stunnel] {
            print("tether plaintext / socat: \(fixed(plain / socat * 100, 0))%; tether TLS / stunnel: \(fixed(tls / stunnel * 100, 0))%")
        }
    }

    static let direct = "direct (no relay)", plain = "tether plaintext", socat = "socat -> socat", tls = "tether mutual TLS 1.3",
               stunnel = "stunnel -> stunnel", floor = "floor -> floor"

    func measure() async throws -> [Row] {
        for tool in ["socat", "stunnel4"] where Tools.which(tool) == nil {
            throw ValidationError("needs \(tool): apt-get install socat stunnel4")
        }
        let pki = try Fixtures.temporaryDirectory().path
        _ = try ClusterCA.initialize(in: pki)
        _ = try ClusterCA.issue(name: "dev", in: pki)
        _ = try ClusterCA.issue(name: "vm", in: pki)
        let sink = try SinkServer(), echo = try EchoServer()
        var keep: [Any] = []

        func tetherPath(_ name: String, tls: Bool) async throws -> Path {
            func chain(_ target: Int) async throws -> Int {
                let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: target,
                                                         identity: tls ? TLSIdentity(directory: pki, name: "dev") : nil, allow: tls ? ["vm"] : nil)
                let connect = try await ChannelRelay.start(.connect, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: serve.port,
                                                           identity: tls ? TLSIdentity(directory: pki, name: "vm") : nil, allow: tls ? ["dev"] : nil)
                keep += [serve, connect]
                return connect.port
            }
            return Path(name: name, sinkPort: try await chain(sink.port), echoPort: try await chain(echo.port))
        }

        func socatPath() async throws -> Path {
            func chain(_ target: Int) async throws -> Int {
                let (a, b) = (try QEMUTestbed.freePort(), try QEMUTestbed.freePort())
                keep.append(try await BackgroundProcess(Tools.which("socat")!, ["TCP-LISTEN:\(b),bind=127.0.0.1,reuseaddr,fork,nodelay", "TCP:127.0.0.1:\(target),nodelay"]))
                keep.append(try await BackgroundProcess(Tools.which("socat")!, ["TCP-LISTEN:\(a),bind=127.0.0.1,reuseaddr,fork,nodelay", "TCP:127.0.0.1:\(b),nodelay"]))
                try Self.waitForListener(a)
                try Self.waitForListener(b)
                return a
            }
            return Path(name: Self.socat, sinkPort: try await chain(sink.port), echoPort: try await chain(echo.port))
        }

        func stunnelPath() async throws -> Path {
            func chain(_ target: Int) async throws -> Int {
                let (a, b) = (try QEMUTestbed.freePort(), try QEMUTestbed.freePort())
                let common = "foreground = yes\npid =\nsocket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\nCAfile = \(pki)/ca.crt\nverifyChain = yes\nsslVersionMin = TLSv1.3\n"
                let server = "\(pki)/server-\(b).conf", client = "\(pki)/client-\(a).conf"
                try (common + "[srv]\naccept = 127.0.0.1:\(b)\nconnect = 127.0.0.1:\(target)\ncert = \(pki)/dev.crt\nkey = \(pki)/dev.key\n")
                    .write(toFile: server, atomically: true, encoding: .utf8)
                try (common + "client = yes\n[cli]\naccept = 127.0.0.1:\(a)\nconnect = 127.0.0.1:\(b)\ncert = \(pki)/vm.crt\nkey = \(pki)/vm.key\n")
                    .write(toFile: client, atomically: true, encoding: .utf8)
                keep.append(try await BackgroundProcess(Tools.which("stunnel4")!, [server]))
                keep.append(try await BackgroundProcess(Tools.which("stunnel4")!, [client]))
                try Self.waitForListener(a)
                try Self.waitForListener(b)
                return a
            }
            return Path(name: Self.stunnel, sinkPort: try await chain(sink.port), echoPort: try await chain(echo.port))
        }

        func floorPath() throws -> Path {
            func chain(_ target: Int) throws -> Int {
                let serve = try FloorRelay(targetPort: target)
                let connect = try FloorRelay(targetPort: serve.port)
                keep += [serve, connect]
                return connect.port
            }
            return Path(name: Self.floor, sinkPort: try chain(sink.port), echoPort: try chain(echo.port))
        }

        let direct = Path(name: Self.direct, sinkPort: sink.port, echoPort: echo.port)
        let wanted = Set(self.paths.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let unknown = wanted.subtracting(["plain", "socat", "floor", "tls", "stunnel"])
        guard unknown.isEmpty else { throw ValidationError("unknown paths: \(unknown.sorted().joined(separator: ", "))") }
        var paths = [direct]
        if wanted.contains("plain") { paths.append(try await tetherPath(Self.plain, tls: false)) }
        if wanted.contains("socat") { paths.append(try await socatPath()) }
        if wanted.contains("floor") { paths.append(try floorPath()) }
        if wanted.contains("tls") { paths.append(try await tetherPath(Self.tls, tls: true)) }
        if wanted.contains("stunnel") { paths.append(try await stunnelPath()) }

        // The paths take turns, one run each per round, each round starting one path later: a
        // machine whose speed drifts during the benchmark weighs on every path alike.
        var rates: [String: [Double]] = [:]
        for round in 0..<runs {
            for k in paths.indices {
                let path = paths[(k + round) % paths.count]
                rates[path.name, default: []].append(try Self.throughput(port: path.sinkPort, bytes: bytes, sink: sink))
            }
        }
        let rtts = try Self.roundTrips(ports: paths.map(\.echoPort), count: messages)
        let baseline = rtts[0]
        let rows = zip(paths, rtts).map { path, rtt in
            Row(name: path.name, throughput: median(rates[path.name] ?? []), p50: rtt.p50 - baseline.p50, p99: rtt.p99 - baseline.p99)
        }
        keep.removeAll()
        return rows
    }

    static func waitForListener(_ port: Int) throws {
        for _ in 0..<500 {
            if let fd = StreamPeer.connect(port: port) { close(fd); return }
            usleep(10_000)
        }
        throw ValidationError("nothing listens on \(port)")
    }

    /// Sends `bytes` through the path to the sink; MB/s from the first connect to the sink's EOF.
    static func throughput(port: Int, bytes: Int, sink: SinkServer) throws -> Double {
        let block = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ 0xA5) }
        let start = DispatchTime.now().uptimeNanoseconds
        guard let fd = StreamPeer.connect(port: port) else { throw ValidationError("cannot connect to \(port)") }
        var left = bytes
        while left > 0 {
            let n = min(left, block.count)
            var off = 0
            while off < n {
                let w = block.withUnsafeBytes { send(fd, $0.baseAddress! + off, n - off, Int32(MSG_NOSIGNAL)) }
                guard w > 0 else { throw ValidationError("send failed: \(errno)") }
                off += w
            }
            left -= n
        }
        shutdown(fd, Int32(SHUT_WR))
        let end = try sink.waitForStream(bytes: bytes)
        close(fd)
        return Double(bytes) / (Double(end - start) / 1e9) / 1e6
    }

    /// Round trips of 64 bytes on each port, `count` each; microseconds at p50 and p99. The
    /// ports take turns in blocks of 500, each block in another order, so that a machine that
    /// drifts (another tenant's load, a frequency change) weighs on every path alike instead of
    /// on the one measured while it lasted.
    static func roundTrips(ports: [Int], count: Int) throws -> [(p50: Double, p99: Double)] {
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        for port in ports {
            guard let fd = StreamPeer.connect(port: port) else { throw ValidationError("cannot connect to \(port)") }
            fds.append(fd)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var request = [UInt8](repeating: 7, count: 64), reply = [UInt8](repeating: 0, count: 64)
        func roundTrip(_ fd: Int32, _ i: Int) throws -> Double {
            request[0] = UInt8(truncatingIfNeeded: i)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, 64, Int32(MSG_NOSIGNAL)) }
            var got = 0
            while got < 64 {
                let n = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, 64 - got, 0) }
                guard n > 0 else { throw ValidationError("echo closed") }
                got += n
            }
            guard reply[0] == request[0] else { throw ValidationError("echo out of order") }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
        }
        for fd in fds { for i in 0..<200 { _ = try roundTrip(fd, i) } }   // to warm up
        var samples = [[Double]](repeating: [], count: fds.count)
        let block = 500
        for round in 0..<((count + block - 1) / block) {
            for turn in 0..<fds.count {
                let index = (turn + round) % fds.count
                for i in 0..<min(block, count - round * block) { samples[index].append(try roundTrip(fds[index], i)) }
            }
        }
        return samples.map { path in
            let sorted = path.sorted()
            return (sorted[sorted.count / 2], sorted[Int(Double(sorted.count) * 0.99)])
        }
    }
}

/// Counts what each connection sends and notes when its stream ends.
final class SinkServer: @unchecked Sendable {
    let port: Int
    private let ended = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var last: (bytes: Int, end: UInt64) = (0, 0)

    init() throws {
        let (fd, port) = try LoopbackListener.open()
        self.port = port
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                Thread.detachNewThread { [self] in
                    var buffer = [UInt8](repeating: 0, count: 1 << 18)
                    var total = 0
                    while true {
                        let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                        if n <= 0 { break }
                        total += n
                    }
                    close(client)
                    // Empty streams are the probes that check a relay listens, not measurements.
                    guard total > 0 else { return }
                    lock.withLock { last = (total, DispatchTime.now().uptimeNanoseconds) }
                    ended.signal()
                }
            }
        }
    }

    func waitForStream(bytes: Int) throws -> UInt64 {
        guard ended.wait(timeout: .now() + 600) == .success else { throw ValidationError("the sink never saw the stream end") }
        let (total, end) = lock.withLock { last }
        guard total == bytes else { throw ValidationError("the sink got \(total) of \(bytes) bytes") }
        return end
    }
}

/// Echoes every byte back.
final class EchoServer: @unchecked Sendable {
    let port: Int
    init() throws {
        let (fd, port) = try LoopbackListener.open()
        self.port = port
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                var one: Int32 = 1
                setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 1 << 16)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                        if n <= 0 { break }
                        _ = buffer.withUnsafeBytes { send(client, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
                    }
                    close(client)
                }
            }
        }
    }
}
