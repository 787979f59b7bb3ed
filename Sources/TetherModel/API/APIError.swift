/// The body of every API error: `{"error": {"code": ..., "message": ..., "cause": ...}}`.
public struct APIErrorBody: Sendable, Equatable, Codable {
    public var error: Detail

    public struct Detail: Sendable, Equatable, Codable {
        public var code: TetherError.Code
        public var message: String
        public var cause: String?
    }

    public init(_ error: TetherError) {
        self.error = Detail(code: error.code, message: error.message, cause: error.cause)
    }

    public var tetherError: TetherError { TetherError(error.code, error.message, cause: error.cause) }
}

extension TetherError.Code {
    /// The HTTP status an API error with this code is sent with: bad input is a 4xx, always.
    public var httpStatus: Int {
        switch self {
        case .invalidArgument, .invalidDescriptor: 400
        case .permissionDenied: 403
        case .notFound: 404
        case .busy: 409
        case .unsupported: 422
        case .timeout: 504
        case .interrupted, .noMemory, .notLeader: 503
        case .io: 502
        case .internalError: 500
        }
    }
}
