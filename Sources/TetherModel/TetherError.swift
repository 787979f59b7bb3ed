/// The one error type Tether reports: a code a program can switch on, a message a person can act
/// on, and the lower-level cause where there is one (a libusb return code, an errno, a QMP error).
public struct TetherError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is. Stable: scripts and the API map these to exit codes and
    /// HTTP statuses.
    public enum Code: String, Sendable, Codable, CaseIterable {
        case invalidArgument
        case invalidDescriptor
        case notFound
        case permissionDenied
        case busy
        case timeout
        case unsupported
        case noMemory
        case interrupted
        case io
        case internalError
        /// Sent to a controller that does not lead (a standby, or a leader whose lease on the
        /// shared store ran out): ask the leader, which the message names when it is known.
        case notLeader
    }

    public var code: Code
    public var message: String
    /// What a lower layer said, kept verbatim so that nothing is lost when the error is reported.
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message) (\(cause))"
    }
}
