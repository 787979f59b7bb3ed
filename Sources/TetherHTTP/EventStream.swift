import Controller
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization
import TetherModel

/// `GET /v1/events/stream`: the controller's events as server-sent events, the same stream
/// `GET /v1/events` pages through. Each event is `id: EPOCH-SEQUENCE` and `data: JSON`; a
/// reconnecting browser sends `Last-Event-ID` and resumes after it (from the start when the id
/// is another controller's: a new leader numbers from 1). Quiet streams get a comment every 15 s,
/// so that proxies and dead peers are noticed. The stream ends when this controller stops
/// leading or shuts down; the browser's EventSource then reconnects on its own.
enum EventStream {
    static let keepAlive: Duration = .seconds(15)
    /// Each open stream holds a task and a connection: past this many, a new one is refused.
    static let most = 256
    static let open = Mutex(0)

    /// One of the `most` streams, taken and counted at once; given back when released.
    final class StreamSlot: Sendable {
        init?() {
            guard EventStream.open.withLock({ count in
                guard count < EventStream.most else { return false }
                count += 1
                return true
            }) else { return nil }
        }

        deinit { EventStream.open.withLock { $0 -= 1 } }
    }

    static func response(_ request: Request, seat: ControllerSeat) async throws -> Response {
        let resume = try resumePoint(request)
        // Asked before the first byte: a standby answers 503 naming the leader, in JSON.
        let controller = try await seat.leading()
        let epoch = controller.eventEpoch
        // An id of another controller's numbering (the page came from the leader before): all of this one's.
        let after = resume.epoch == nil || resume.epoch == epoch ? resume.after : 0
        guard let slot = StreamSlot() else {
            throw TetherError(.busy, "\(most) event streams are open on this controller; close one, or page through GET /v1/events")
        }
        let body = ResponseBody { writer in
            // Held by the body: given back when the stream ends, or when the body is dropped unrun.
            withExtendedLifetime(slot) {}
            var next = after
            var quietSince = ContinuousClock.now
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                guard let leading = try? await seat.leading(), leading === controller else { break }
                // Short waits: a controller shutting down must not wait on an open page.
                let page = await controller.events(after: next, wait: .seconds(1))
                if page.events.isEmpty {
                    // The only write of a quiet stream: also how a closed page is noticed.
                    if ContinuousClock.now - quietSince >= keepAlive {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        quietSince = .now
                    }
                    continue
                }
                var text = ""
                for event in page.events {
                    let json = String(decoding: try APIJSON.encoder().encode(event), as: UTF8.self)
                    text += "id: \(epoch)-\(event.sequence)\ndata: \(json)\n\n"
                }
                try await writer.write(ByteBuffer(string: text))
                next = page.next
                quietSince = .now
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// Where to resume: `Last-Event-ID` (a reconnecting EventSource) over `after`, each either
    /// an id this stream gave (`EPOCH-SEQUENCE`) or a bare sequence; 0 without either.
    static func resumePoint(_ request: Request) throws(TetherError) -> (epoch: String?, after: Int) {
        let text = request.headers.first { $0.name.canonicalName == "last-event-id" }?.value
            ?? request.uri.queryParameters["after"].map(String.init)
        guard let text else { return (nil, 0) }
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let epoch = parts.count == 2 ? String(parts[0]) : nil
        let sequence = parts[parts.count - 1]
        guard (1...18).contains(sequence.count), sequence.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(sequence),
              epoch.map({ !$0.isEmpty && $0.count <= 13 && $0.allSatisfy { $0.isASCII && ($0.isNumber || $0.isLowercase) } }) ?? true
        else {
            throw TetherError(.invalidArgument, "the stream resumes after an event's id (EPOCH-SEQUENCE, as the stream gave it) or a sequence "
                              + "number (0 or more), not '\(text.prefix(40))'")
        }
        return (epoch, n)
    }
}
