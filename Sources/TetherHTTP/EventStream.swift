import Controller
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import TetherModel

/// `GET /v1/events/stream`: the controller's events as server-sent events, the same stream
/// `GET /v1/events` pages through. Each event is `id: SEQUENCE` and `data: JSON`; a reconnecting
/// browser sends `Last-Event-ID` and resumes after it. Quiet streams get a comment every 15 s,
/// so that proxies and dead peers are noticed. The stream ends when this controller stops
/// leading or shuts down; the browser's EventSource then reconnects on its own.
enum EventStream {
    static let keepAlive: Duration = .seconds(15)

    static func response(_ request: Request, seat: ControllerSeat) async throws -> Response {
        let after = try resumePoint(request)
        // Asked before the first byte: a standby answers 503 naming the leader, in JSON.
        _ = try await seat.leading()
        let body = ResponseBody { writer in
            var next = after
            var quietSince = ContinuousClock.now
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                guard let controller = try? await seat.leading() else { break }
                // Short waits: a controller shutting down must not wait on an open page.
                let page = await controller.events(after: next, wait: .seconds(1))
                if page.events.isEmpty {
                    if ContinuousClock.now - quietSince >= keepAlive {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        quietSince = .now
                    }
                    continue
                }
                var text = ""
                for event in page.events {
                    let json = String(decoding: try APIJSON.encoder().encode(event), as: UTF8.self)
                    text += "id: \(event.sequence)\ndata: \(json)\n\n"
                }
                try await writer.write(ByteBuffer(string: text))
                next = page.next
                quietSince = .now
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// `Last-Event-ID` (a reconnecting EventSource) over `after`; 0 without either.
    static func resumePoint(_ request: Request) throws(TetherError) -> Int {
        let text = request.headers.first { $0.name.canonicalName == "last-event-id" }?.value
            ?? request.uri.queryParameters["after"].map(String.init)
        guard let text else { return 0 }
        guard let n = Int(text), n >= 0 else {
            throw TetherError(.invalidArgument, "the stream resumes after a sequence number (0 or more), not '\(text)'")
        }
        return n
    }
}
