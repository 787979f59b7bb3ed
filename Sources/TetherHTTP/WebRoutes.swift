import Controller
import Foundation
import Hummingbird
import NIOCore
import TetherModel
import WebView

/// The web view: `GET /` renders the cluster, `GET /view/sections` the same sections alone (the
/// page's script swaps them in on each event of `/v1/events/stream`), `/assets/...` its style
/// and script. Read-only, under the same roles as the API's reads.
enum WebRoutes {
    /// How far back the page looks: enough for a failover's story, small enough to render fast.
    static let operationsShown = 20
    static let eventsShown = 100

    static func add(to router: Router<APIContext>, seat: ControllerSeat, access: LocalAccess) {
        let view = WebPage()
        router.get("/") { _, context in
            try await context.require(.read, access, to: "see the cluster")
            return html(try view.page(try await page(seat)))
        }
        router.get("view/sections") { _, context in
            try await context.require(.read, access, to: "see the cluster")
            return html(try view.sections(try await page(seat)))
        }
        // The assets are public: they hold nothing of the cluster's.
        router.get("assets/view.css") { _, _ in asset(ViewAssets.css, type: "text/css; charset=utf-8") }
        router.get("assets/view.js") { _, _ in asset(ViewAssets.js, type: "text/javascript; charset=utf-8") }
    }

    static func page(_ seat: ControllerSeat) async throws(TetherError) -> ClusterPage {
        let status = try await seat.status()
        let finished = try await seat.recentOperations(limit: operationsShown)
        // In flight first (oldest first, as they began), then those that ended, newest first.
        let running = status.operations
        let ended = finished.filter { op in !running.contains { $0.id == op.id } }
        return ClusterPage(status: status, operations: running + ended, events: await seat.recentEvents(limit: eventsShown),
                           controller: seat.name, at: Date(), eventEpoch: await seat.eventEpoch())
    }

    /// The page and its parts may not be framed by another site, nor run scripts but its own.
    static let pageHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        .cacheControl: "no-store",
    ]

    static func html(_ text: String) -> Response {
        var headers = pageHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .xContentTypeOptions: "nosniff", .cacheControl: "max-age=300"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
