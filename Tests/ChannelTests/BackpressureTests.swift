import Channel
import Foundation
import Testing
import TetherTestSupport
import USBRedirReplay

/// A target that never reads must stall the sender, not fill the relay's memory.
struct BackpressureTests {
    @Test func aStalledReaderStallsTheSenderInsteadOfFillingTheRelay() async throws {
        let pki = try Fixtures.temporaryDirectory().path
        _ = try ClusterCA.initialize(in: pki)
        _ = try ClusterCA.issue(name: "dev", in: pki)
        _ = try ClusterCA.issue(name: "vm", in: pki)
        let (listener, targetPort) = try Self.stalledTarget()
        defer { close(listener) }
        let serve = try await ChannelRelay.start(.serve, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: targetPort,
                                                 identity: TLSIdentity(directory: pki, name: "dev"), allow: ["vm"])
        let connect = try await ChannelRelay.start(.connect, listenHost: "127.0.0.1", listenPort: 0, targetHost: "127.0.0.1", targetPort: serve.port,
                                                   identity: TLSIdentity(directory: pki, name: "vm"), allow: ["dev"])
        let fd = try #require(StreamPeer.connect(port: connect.port))
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
        var pushed = 0
        var idleSince = Date()
        // Push until nothing more goes in for half a second (or 512 MiB: no backpressure at all).
        while Date().timeIntervalSince(idleSince) < 0.5 && pushed < 512 << 20 {
            let n = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                pushed += n
                idleSince = Date()
            } else {
                usleep(5_000)
            }
        }
        let carried = serve.meter.total(.toDevice)
        #expect(pushed < 64 << 20, "the sender was held back after \(pushed >> 20) MiB")
        #expect(carried < 64 << 20, "the relay forwarded \(carried >> 20) MiB into a target that reads nothing")
        await serve.stop()
        await connect.stop()
    }

    /// Accepts connections and never reads from them.
    static func stalledTarget() throws -> (Int32, Int) {
        let (fd, port) = try LoopbackListener.open(backlog: 4)
        Thread.detachNewThread {
            var held: [Int32] = []
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { break }
                held.append(client)   // kept open, never read
            }
            for c in held { close(c) }
        }
        return (fd, port)
    }
}
