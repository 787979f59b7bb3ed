import Hummingbird
import NIOCore

/// The API's description (OpenAPI 3.0), served at `GET /v1/openapi.json` by both roles: every
/// `/v1` route of the controller and of the agents, each request and response. It is kept by
/// hand beside the routes; `OpenAPIDocumentTests` fails the build when a route is missing from
/// it or it names one that does not exist, and schemathesis checks the answers against it in CI.
public enum OpenAPIDocument {
    static func response() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "max-age=300"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }
}
