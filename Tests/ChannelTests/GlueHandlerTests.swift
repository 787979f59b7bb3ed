@testable import Channel
import NIOCore
import NIOEmbedded
import Testing

/// The glue's closing rules, step by step on embedded channels, with the socket end of the VM
/// side holding its writes the way a full kernel send buffer does. The real-socket version of
/// this race (issue 5) lost a stream's tail about once in 15 runs of two concurrent streams.
struct GlueHandlerTests {
    /// At the socket end: keeps writes queued until released, records every close, and fails
    /// what is still queued on a full close, as NIO's socket channel does.
    final class SocketEnd: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private var queued: [(ByteBuffer, EventLoopPromise<Void>?)] = []
        private(set) var closes: [CloseMode] = []
        private(set) var failedBytes = 0
        private var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            queued.append((unwrapOutboundIn(data), promise))
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            closes.append(mode)
            // EmbeddedChannel knows no half-closure (any close is full), so an output close
            // stops here.
            guard mode == .all else { return promise?.succeed(()) ?? () }
            // Taken first: failing a promise runs the drain tracker's waiters, which close again.
            let dropped = queued
            queued.removeAll()
            for (buffer, promise) in dropped {
                failedBytes += buffer.readableBytes
                promise?.fail(ChannelError.ioOnClosedChannel)
            }
            context.close(mode: mode, promise: promise)
        }

        /// The kernel takes everything queued.
        func drain() {
            guard let context else { return }
            let ready = queued
            queued.removeAll()
            for (buffer, promise) in ready { context.write(wrapOutboundOut(buffer), promise: promise) }
            context.flush()
        }
    }

    /// A device-side channel and a VM-side channel glued, each with its drain tracker, the VM
    /// side's socket end a `SocketEnd`.
    func glued() throws -> (device: EmbeddedChannel, vm: EmbeddedChannel, vmSocket: SocketEnd) {
        let (deviceSide, vmSide) = GlueHandler.pair(meter: nil, firstReads: .toVM)
        let device = EmbeddedChannel()
        try device.pipeline.syncOperations.addHandler(WriteDrainTracker())
        try device.pipeline.syncOperations.addHandler(deviceSide)
        let vm = EmbeddedChannel()
        let socket = SocketEnd()
        try vm.pipeline.syncOperations.addHandler(socket)
        try vm.pipeline.syncOperations.addHandler(WriteDrainTracker())
        try vm.pipeline.syncOperations.addHandler(vmSide)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        try device.connect(to: address).wait()
        try vm.connect(to: address).wait()
        return (device, vm, socket)
    }

    @Test func theVMSideEndingItsInputDoesNotCutWritesStillQueuedTowardsIt() throws {
        let (device, vm, socket) = try glued()
        var tail = device.allocator.buffer(capacity: 4)
        tail.writeString("tail")
        try device.writeInbound(tail)
        // The device ends its stream while its last bytes still wait in the VM side's queue.
        device.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(socket.closes.isEmpty, "no close of the VM side before its queued writes have gone")
        // Then the VM side's input ends too (its relay peer half-closed).
        vm.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(socket.closes.isEmpty, "still no close: the queued writes have not gone yet")
        #expect(socket.failedBytes == 0)

        socket.drain()
        #expect(socket.failedBytes == 0, "the stream's tail was not cut")
        #expect(try written(vm) == ["tail"], "written once")
        #expect(socket.closes.first == .output, "the output ends first, after the tail")
        #expect(socket.closes.contains(.all), "then, both directions done, the channel closes")
    }

    @Test func aHalfCloseCarriedAcrossWaitsForTheQueue() throws {
        let (device, vm, socket) = try glued()
        var bytes = device.allocator.buffer(capacity: 3)
        bytes.writeString("abc")
        try device.writeInbound(bytes)
        device.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(socket.closes.isEmpty)
        socket.drain()
        #expect(socket.closes == [.output], "only the output ends: the VM may still send")
        #expect(vm.isActive)
        #expect(try written(vm) == ["abc"])
    }

    /// What reached the VM side's socket, without the drain tracker's empty markers.
    func written(_ vm: EmbeddedChannel) throws -> [String] {
        var all: [String] = []
        while let buffer = try vm.readOutbound(as: ByteBuffer.self) {
            if buffer.readableBytes > 0 { all.append(String(buffer: buffer)) }
        }
        return all
    }
}
