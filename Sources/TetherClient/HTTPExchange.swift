import Glibc
import NIOCore
import NIOHTTP1
import NIOSSL

/// One request on a kept-alive HTTP/1.1 connection, with the promise its whole answer completes.
struct HTTPExchange: Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer?
    /// When the whole answer must be in: the request's one deadline, connecting included.
    let deadline: NIODeadline
    let reply: EventLoopPromise<HTTPReply>
}

/// A whole answer: status, whether the connection may carry another request, the body.
struct HTTPReply: Sendable {
    let status: HTTPResponseStatus
    let keepAlive: Bool
    let body: ByteBuffer
}

enum HTTPExchangeFailure: Error, CustomStringConvertible {
    /// The connection was closed before the request was written: nothing reached the server.
    case notSent
    /// The request was written and the connection ended with no answer: the server may have
    /// closed it (a restart, a failover) before it read the request, or read it and died.
    case closedBeforeReply
    case closedMidReply
    /// The request's deadline passed (connecting or waiting for the answer).
    case timedOut
    case bodyTooLarge(limit: Int)
    /// A request written while another's answer is awaited: the pool hands a connection to one
    /// request at a time, so this is a bug of the caller's.
    case busy

    var description: String {
        switch self {
        case .notSent: "the connection closed before the request was sent"
        case .closedBeforeReply: "the connection closed before an answer came"
        case .closedMidReply: "the connection closed in the middle of the answer"
        case .timedOut: "no whole answer by the request's deadline (timeout)"
        case .bodyTooLarge(let limit): "the answer is longer than \(limit) bytes"
        case .busy: "a request was written on a connection that awaits another's answer"
        }
    }
}

/// Writes one request at a time and gathers its answer (NIOHTTP1's codec below it). Every way a
/// connection can end, early or late, fails the awaited answer: nobody waits forever.
final class HTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPExchange
    typealias OutboundOut = HTTPClientRequestPart

    private struct Awaited {
        let reply: EventLoopPromise<HTTPReply>
        let timeout: Scheduled<Void>
        var head: HTTPResponseHead?
        var body: ByteBuffer?
    }

    private let bodyLimit: Int
    private var awaited: Awaited?

    init(bodyLimit: Int) { self.bodyLimit = bodyLimit }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard awaited == nil, context.channel.isActive else {
            let failure = awaited == nil ? HTTPExchangeFailure.notSent : HTTPExchangeFailure.busy
            exchange.reply.fail(failure)
            promise?.fail(failure)
            return
        }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let timeout = context.eventLoop.scheduleTask(deadline: exchange.deadline) {
            bound.value.handler.fail(bound.value.context, HTTPExchangeFailure.timedOut)
        }
        awaited = Awaited(reply: exchange.reply, timeout: timeout)
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard awaited != nil else {
            // An answer nobody asked for (NIO's decoder mostly refuses one first): the connection
            // no longer pairs requests with answers.
            return context.close(promise: nil)
        }
        // Changed in place, not through a copy: a body kept in two places would be copied whole
        // by every part appended to it.
        switch unwrapInboundIn(data) {
        case .head(let head):
            awaited!.head = head
        case .body(var part):
            if awaited!.body == nil {
                awaited!.body = part
            } else {
                awaited!.body!.writeBuffer(&part)
            }
            guard awaited!.body!.readableBytes <= bodyLimit else {
                return fail(context, HTTPExchangeFailure.bodyTooLarge(limit: bodyLimit))
            }
        case .end:
            let current = awaited!
            awaited = nil
            current.timeout.cancel()
            guard let head = current.head else {
                current.reply.fail(HTTPExchangeFailure.closedMidReply)
                return context.close(promise: nil)
            }
            current.reply.succeed(HTTPReply(status: head.status, keepAlive: head.isKeepAlive,
                                            body: current.body ?? context.channel.allocator.buffer(capacity: 0)))
        }
    }

    /// Idle too long between requests (`IdleStateHandler` below): closed. While an answer is
    /// awaited, the request's own timeout decides.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if awaited == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Removed with its channel: whatever still waits learns it now, not at its timeout.
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(HTTPExchangeFailure.closedBeforeReply)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, awaited?.head == nil ? HTTPExchangeFailure.closedBeforeReply : HTTPExchangeFailure.closedMidReply)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, Self.classify(error, answerBegun: awaited?.head != nil))
    }

    /// A connection's end, said as an error by the layer that saw it, is still a connection's
    /// end, before the answer or inside it (a whole head read). A request that was written is
    /// sent again only if it is a GET, so an answer's first bytes need no tracking here.
    static func classify(_ error: any Error, answerBegun: Bool) -> any Error {
        // The decoder's word for a stream that ended inside an answer it had begun to read.
        if error as? HTTPParserError == .invalidEOFState { return HTTPExchangeFailure.closedMidReply }
        var ended = false
        if case NIOSSLError.uncleanShutdown = error { ended = true }   // TLS closed without its close_notify
        if let code = (error as? IOError)?.errnoCode, code == ECONNRESET || code == EPIPE { ended = true }
        guard ended else { return error }
        return answerBegun ? HTTPExchangeFailure.closedMidReply : HTTPExchangeFailure.closedBeforeReply
    }

    /// Fails the awaited answer, if any, and closes: a connection that failed once is not reused.
    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        finish(error)
        context.close(promise: nil)
    }

    private func finish(_ error: any Error) {
        guard let current = awaited else { return }
        awaited = nil
        current.timeout.cancel()
        current.reply.fail(error)
    }
}
