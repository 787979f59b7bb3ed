import NIOCore
import NIOEmbedded
import Testing
import TetherModel
@testable import TetherHTTP

/// A connection's caller is found on its first request and kept for the next ones (finding it
/// is a hop onto the connection's loop, and over TLS a certificate's parse), and forgotten when
/// the connection closes: a controller serving many short connections keeps no entry for any
/// that went.
struct ConnectionCallerTests {
    @Test func aConnectionsCallerIsKeptWhileItIsOpenAndForgottenWhenItCloses() async throws {
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).get()
        #expect(!ConnectionCaller.isKnown(channel))
        let first = await ConnectionCaller.of(channel)
        #expect(ConnectionCaller.isKnown(channel), "kept after the first request")
        // No TLS and no unix socket: no certificate names, and no credentials to judge by.
        #expect(first.peerNames == nil)
        #expect(try first.role(.socketFileOnly).get() == nil, "a listener whose socket file is its control lets it do everything")
        #expect(try first.role(.loopbackViewers).get() == .viewer)
        let refused = first.role(LocalAccess(operatorGroups: [4242], viewerGroups: []))
        #expect(throws: TetherError.self) { try refused.get() }
        #expect((try? (await ConnectionCaller.of(channel)).role(.loopbackViewers).get()) == .viewer, "the second request reads the same")
        try await channel.close()
        #expect(await Self.forgotten(channel), "forgotten once the connection closed")
    }

    @Test func aConnectionAlreadyClosedLeavesNothingKept() async throws {
        let channel = NIOAsyncTestingChannel()
        try await channel.close()
        _ = await ConnectionCaller.of(channel)
        #expect(await Self.forgotten(channel))
    }

    /// The close's callbacks run on the channel's loop: given a second to.
    static func forgotten(_ channel: any Channel) async -> Bool {
        for _ in 0..<100 where ConnectionCaller.isKnown(channel) { try? await Task.sleep(for: .milliseconds(10)) }
        return !ConnectionCaller.isKnown(channel)
    }
}
