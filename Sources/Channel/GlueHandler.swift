import NIOCore

/// Joins two channels: what one reads, the other writes. Backpressure end to end: a side reads
/// only while its partner is writable, so a slow reader never makes the relay buffer without
/// bound. A half-close is carried across (end of input on one side ends output on the other);
/// a full close of either side closes the other. (The pattern of swift-nio's connect proxy.)
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false
    private let meter: ByteMeter?
    private let direction: ByteMeter.Direction
    private let onClose: (@Sendable (String?) -> Void)?
    /// For a channel session: when this (VM) side goes, the partner (exporter) is handed here,
    /// unglued and open, instead of being closed.
    private var keepPartner: ((any Channel) -> Void)?

    private init(meter: ByteMeter?, direction: ByteMeter.Direction, onClose: (@Sendable (String?) -> Void)?) {
        self.meter = meter
        self.direction = direction
        self.onClose = onClose
    }

    /// Two handlers, one for each channel. `direction` is the direction of the bytes the first
    /// one reads.
    static func pair(meter: ByteMeter?, firstReads direction: ByteMeter.Direction,
                     onClose: (@Sendable (String?) -> Void)? = nil,
                     keepSecondWhenFirstCloses: ((any Channel) -> Void)? = nil) -> (GlueHandler, GlueHandler) {
        let other: ByteMeter.Direction = direction == .toVM ? .toDevice : .toVM
        let first = GlueHandler(meter: meter, direction: direction, onClose: onClose)
        first.keepPartner = keepSecondWhenFirstCloses
        let second = GlueHandler(meter: meter, direction: other, onClose: nil)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    private func partnerWrite(_ data: NIOAny) { context?.write(data, promise: nil) }
    private func partnerFlush() { context?.flush() }
    private var partnerWritable: Bool { context?.channel.isWritable ?? false }

    /// Closes (fully, or only the output) after everything already written has gone out: NIO
    /// fails the writes still queued in a channel that closes. The channel's WriteDrainTracker,
    /// at its socket end, says when they have (above TLS, nothing else can).
    private func closeAfterWrites(_ mode: CloseMode) {
        guard let context else { return }
        let channel = context.channel
        context.flush()
        let close = { channel.close(mode: mode, promise: nil) }
        if let tracker = try? context.pipeline.syncOperations.handler(type: WriteDrainTracker.self) {
            tracker.whenDrained(close)
        } else {
            close()
        }
    }

    private func partnerClose(_ reason: String?) {
        closeAfterWrites(.all)
    }

    /// The partner's input ended: end our output, and close once both directions are done.
    private func partnerInputClosed() {
        outputClosed = true
        closeAfterWrites(inputClosed ? .all : .output)
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        meter?.record(unwrapInboundIn(data).readableBytes, direction)
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.partnerFlush() }

    /// This side is gone: close the partner, or hand it over when it is a session's exporter.
    private func gone(_ reason: String?) {
        onClose?(reason)
        guard let partner else { return }
        self.partner = nil
        if let keep = keepPartner, let partnerContext = partner.context {
            keepPartner = nil
            partner.partner = nil
            let channel = partnerContext.channel
            partnerContext.pipeline.syncOperations.removeHandler(context: partnerContext, promise: nil)
            keep(channel)
        } else {
            partner.partnerClose(reason)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone(nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        gone("\(error)")
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            if keepPartner != nil {
                // A session's VM side ending its stream means the VM went (it does not half-close).
                gone(nil)
                context.close(promise: nil)
                return
            }
            inputClosed = true
            partner?.partnerInputClosed()
            // Our output may still be draining (its close waits on the tracker); closing now
            // would fail those writes and cut the stream's tail.
            if outputClosed { closeAfterWrites(.all) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
