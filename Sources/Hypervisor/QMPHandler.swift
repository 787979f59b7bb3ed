import Foundation
import NIOCore

/// One command on its way to QEMU.
struct QMPRequest {
    let command: String
    let arguments: JSONValue?
    let promise: EventLoopPromise<JSONValue>
    let deadline: NIODeadline
}

/// QMP on one channel: writes commands with an `id`, matches each reply to its command by that
/// id, hands events to `onEvent`, and fails every waiting command the moment the socket
/// closes or its deadline passes, so that no caller waits forever. Runs on its event loop only.
final class QMPHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = QMPRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let id: Int64
        let command: String
        let promise: EventLoopPromise<JSONValue>
        let timeout: Scheduled<Void>
    }

    private var greeting: EventLoopPromise<JSONValue>?
    private let greetingDeadline: NIODeadline
    private var pending: [Pending] = []
    private var nextID: Int64 = 1
    /// Once the socket is gone, every new command fails at once instead of waiting out its deadline.
    private var closed = false
    private let onEvent: @Sendable (QMPEvent) -> Void
    private let onClose: @Sendable () -> Void

    init(greeting: EventLoopPromise<JSONValue>, greetingDeadline: NIODeadline,
         onEvent: @escaping @Sendable (QMPEvent) -> Void, onClose: @escaping @Sendable () -> Void) {
        self.greeting = greeting
        self.greetingDeadline = greetingDeadline
        self.onEvent = onEvent
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let seconds = Double(greetingDeadline.uptimeNanoseconds - min(greetingDeadline.uptimeNanoseconds, NIODeadline.now().uptimeNanoseconds)) / 1e9
        context.eventLoop.scheduleTask(deadline: greetingDeadline) {
            bound.value.greeting?.fail(QMPError.timeout("the QMP greeting", seconds: seconds))
            bound.value.greeting = nil
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !closed else {
            request.promise.fail(QMPError.disconnected(request.command))
            promise?.succeed(())
            return
        }
        let id = nextID
        nextID += 1
        var object: [String: JSONValue] = ["execute": .string(request.command), "id": .int(id)]
        if let arguments = request.arguments { object["arguments"] = arguments }
        guard let json = try? JSONEncoder().encode(JSONValue.object(object)) else {
            request.promise.fail(QMPError.malformed("cannot encode \(request.command)"))
            promise?.succeed(())
            return
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let seconds = Double(request.deadline.uptimeNanoseconds - min(request.deadline.uptimeNanoseconds, NIODeadline.now().uptimeNanoseconds)) / 1e9
        let timeout = context.eventLoop.scheduleTask(deadline: request.deadline) {
            bound.value.expire(id, seconds: seconds)
        }
        pending.append(Pending(id: id, command: request.command, promise: request.promise, timeout: timeout))
        var buffer = context.channel.allocator.buffer(capacity: json.count + 2)
        buffer.writeBytes(json)
        buffer.writeString("\r\n")
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        // The command is registered: from here on its promise is answered by a reply, the
        // deadline or the socket closing.
        promise?.succeed(())
    }

    private func expire(_ id: Int64, seconds: Double) {
        guard let index = pending.firstIndex(where: { $0.id == id }) else { return }
        let entry = pending.remove(at: index)
        entry.promise.fail(QMPError.timeout(entry.command, seconds: seconds))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        let text = String(decoding: bytes, as: UTF8.self)
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)), case .object(let message) = value else {
            failOldest(QMPError.malformed(String(text.prefix(200))))
            return
        }
        if let banner = message["QMP"] {
            greeting?.succeed(banner)
            greeting = nil
            return
        }
        if let name = message["event"]?.string {
            let stamp = message["timestamp"]
            let seconds = (stamp?["seconds"]?.double ?? 0) + (stamp?["microseconds"]?.double ?? 0) / 1e6
            onEvent(QMPEvent(name: name, data: message["data"] ?? .null, timestamp: seconds))
            return
        }
        let index: Int?
        if let id = message["id"]?.int {
            index = pending.firstIndex { $0.id == id }
            // No match: the reply to a command whose deadline already passed. Nothing waits for it.
            if index == nil { return }
        } else {
            index = pending.isEmpty ? nil : 0   // QEMU answers in order; an id-less reply is the oldest's
        }
        guard let index else { return }
        let entry = pending.remove(at: index)
        entry.timeout.cancel()
        if let result = message["return"] {
            entry.promise.succeed(result)
        } else if let error = message["error"] {
            entry.promise.fail(QMPError.refused(command: entry.command, errorClass: error["class"]?.string ?? "unknown",
                                                description: error["desc"]?.string ?? "\(error)"))
        } else {
            entry.promise.fail(QMPError.malformed(String(text.prefix(200))))
        }
    }

    private func failOldest(_ error: QMPError) {
        if let greeting {
            greeting.fail(error)
            self.greeting = nil
        } else if !pending.isEmpty {
            let entry = pending.removeFirst()
            entry.timeout.cancel()
            entry.promise.fail(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        greeting?.fail(QMPError.disconnected("the QMP greeting"))
        greeting = nil
        let waiting = pending
        pending.removeAll()
        for entry in waiting {
            entry.timeout.cancel()
            entry.promise.fail(QMPError.disconnected(entry.command))
        }
        onClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
