/// What went wrong talking to QEMU. A command QEMU refused carries QEMU's own class and
/// description; the rest are transport failures, each ended within its deadline.
public enum QMPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// QEMU answered `{"error": {"class": ..., "desc": ...}}`.
    case refused(command: String, errorClass: String, description: String)
    /// No answer within the deadline.
    case timeout(String, seconds: Double)
    /// The socket closed (QEMU exited or was killed) before the answer came.
    case disconnected(String)
    /// QEMU said something that is not QMP: not JSON, or not what was asked.
    case malformed(String)
    /// The socket could not be reached.
    case connectFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .refused(let command, let errorClass, let description): "QEMU refused \(command): \(description) (\(errorClass))"
        case .timeout(let what, let seconds): "no answer from QEMU to \(what) within \(seconds) s"
        case .disconnected(let what): "QEMU closed its QMP socket during \(what) (did it exit?)"
        case .malformed(let text): "QEMU sent something that is not a QMP reply: \(text)"
        case .connectFailed(let path, let reason): "cannot connect to QMP socket \(path): \(reason)"
        }
    }
}
