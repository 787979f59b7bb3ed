import NIOCore

/// Keeps what a relay channel reads, its end of input and its close, until the channel's glue is
/// in place, then hands them over in order. Turning reading off is not enough: when the peer
/// closes, NIO reads the socket to its end whatever `autoRead` says (EPOLLRDHUP), and what
/// reaches a pipeline with no glue yet is dropped. A client that sends a short request and
/// half-closes at once, or an exporter that says hello and hangs up, would lose its last bytes
/// and leave the other side waiting for an end that never comes.
///
/// Also what holds a suspended session's exporter. Past a bound it stops reading, so a chatty
/// device cannot make the relay buffer without limit while no VM listens.
final class InboundHold: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var buffers: [ByteBuffer] = []
    private var bytes = 0
    private var inputEnded = false
    private var closed = false
    private let limit: Int
    private var context: ChannelHandlerContext?

    /// What a channel may send into a hold before the relay stops reading it.
    static let defaultLimit = 4 << 20

    init(limit: Int = InboundHold.defaultLimit) { self.limit = limit }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        bytes += buffer.readableBytes
        buffers.append(buffer)
        if bytes > limit { context.channel.setOption(.autoRead, value: false).whenComplete { _ in } }
    }

    func channelReadComplete(context: ChannelHandlerContext) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputEnded = true
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) { closed = true }

    /// Gives the handlers after this one (the glue, added before the call) what was held: the
    /// bytes, then the end of input, then the close, as they came; and leaves the pipeline.
    func release() {
        guard let context else { return }
        let held = buffers
        buffers = []
        bytes = 0
        for buffer in held { context.fireChannelRead(wrapInboundOut(buffer)) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        if inputEnded { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        if closed { context.fireChannelInactive() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
