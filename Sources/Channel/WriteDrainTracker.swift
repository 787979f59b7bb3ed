import NIOCore

/// Sits at the socket end of a relay channel and knows when every write has reached the kernel.
/// Closing a channel fails its queued writes, and above TLS an empty write's promise does not
/// wait for the ciphertext queued before it; only here, below TLS, is "everything sent" visible.
final class WriteDrainTracker: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var outstanding = 0
    private var waiters: [() -> Void] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        outstanding += 1
        let written = promise ?? context.eventLoop.makePromise()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in bound.value.completed() }
        context.write(data, promise: written)
    }

    private func completed() {
        outstanding -= 1
        guard outstanding == 0 else { return }
        let ready = waiters
        waiters.removeAll()
        for waiter in ready { waiter() }
    }

    /// Runs `body` once nothing written so far is still queued (at once if nothing is).
    func whenDrained(_ body: @escaping () -> Void) {
        if outstanding == 0 { body() } else { waiters.append(body) }
    }
}
