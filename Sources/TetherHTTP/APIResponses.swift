import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat
import TetherModel

/// JSON in and out, in the API's one dialect, with bad bodies turned into clear 400s.
enum APIBody {
    /// The largest request body any endpoint takes; a registration of a host with hundreds of
    /// devices and VMs is well under it.
    static let limit = 4 << 20

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw TetherError(.invalidArgument, "the request body is larger than \(limit >> 20) MiB")
        }
        guard buffer.readableBytes > 0 else { throw TetherError(.invalidArgument, "the request needs a JSON body") }
        do {
            return try buffer.withUnsafeReadableBytes { bytes in try APIJSON.decode(type, from: bytes) }
        } catch {
            throw TetherError(.invalidArgument, "bad request body: \(APIJSON.describe(error))")
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let bytes = try APIJSON.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func noContent() -> Response { Response(status: .noContent) }
}

/// Every failure leaves as JSON with a code and a message: a TetherError with its own status,
/// Hummingbird's own errors (no such route, body too large) mapped, anything else a 500 that
/// still says what happened.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as TetherError {
            return try Self.response(error)
        } catch let error as HTTPError {
            let code: TetherError.Code = switch error.status.code {
            case 404: .notFound
            case 401, 403: .permissionDenied
            case 408, 504: .timeout
            case 400..<500: .invalidArgument
            default: .internalError
            }
            let message = error.status == .notFound
                ? "no endpoint \(request.method.rawValue) \(request.uri.path); the API is under /v1 (see the README)"
                : error.body ?? error.status.reasonPhrase
            return try Self.response(TetherError(code, message), status: error.status)
        } catch {
            context.logger.error("unexpected error: \(error)")
            return try Self.response(TetherError(.internalError, "the server failed: \(error)"))
        }
    }

    static func response(_ error: TetherError, status: HTTPResponse.Status? = nil) throws -> Response {
        try APIBody.json(APIErrorBody(error), status: status ?? HTTPResponse.Status(code: error.code.httpStatus))
    }
}
