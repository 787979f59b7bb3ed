import NIOCore

/// Sits at the socket end of a relay channel and says when every write so far has reached the
/// kernel. Closing a channel fails its queued writes, and above TLS an empty write's promise
/// does not wait for the ciphertext queued before it; only here, below TLS, is "everything
/// sent" visible. Writes pass by untouched (nothing per message on the relay's hot path): an
/// empty write queued here when asked completes once those before it have, as NIO completes a
/// channel's writes in order.
final class WriteDrainTracker: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Runs `body` once nothing written so far is still queued, sent or failed (at once when
    /// the tracker has left a closed channel).
    func whenDrained(_ body: @escaping () -> Void) {
        guard let context else { return body() }
        let marker = context.eventLoop.makePromise(of: Void.self)
        marker.futureResult.assumeIsolated().whenComplete { _ in body() }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: marker)
    }
}
