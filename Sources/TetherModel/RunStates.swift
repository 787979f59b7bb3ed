/// A word of QEMU's vocabulary as a typed value: a table names the known words, and one this
/// version does not know is kept as it came (`other`), not refused. On the wire it is QEMU's word.
public protocol QEMUWord: Sendable, Hashable, CustomStringConvertible, Codable {
    static var named: [(Self, String)] { get }
    static func other(_ text: String) -> Self
    var unknownWord: String? { get }
}

extension QEMUWord {
    public init(_ text: String) {
        self = Self.named.first { $0.1 == text }?.0 ?? .other(text)
    }

    public var description: String {
        unknownWord ?? Self.named.first { $0.0 == self }?.1 ?? "unknown"
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A VM's run state, as QEMU's `query-status` names it, typed end to end: the hypervisor reads
/// it, the agent reports it, the controller decides on it.
public enum VMRunState: QEMUWord {
    case running, paused, prelaunch, inmigrate, postmigrate, finishMigrate, guestPanicked, shutdown, internalError
    /// Paused by QEMU because a disk request failed (`werror`/`rerror=stop`): the request is held,
    /// and `cont` issues it again.
    case ioError
    /// The agent could not ask (QEMU did not answer).
    case unreachable
    case other(String)

    public static let named: [(VMRunState, String)] = [
        (.running, "running"), (.paused, "paused"), (.prelaunch, "prelaunch"), (.inmigrate, "inmigrate"),
        (.postmigrate, "postmigrate"), (.finishMigrate, "finish-migrate"), (.guestPanicked, "guest-panicked"),
        (.shutdown, "shutdown"), (.internalError, "internal-error"), (.ioError, "io-error"), (.unreachable, "unreachable"),
    ]

    public var unknownWord: String? {
        if case .other(let text) = self { return text }
        return nil
    }

    /// Whether the VM is really on its host: not the stopped source of a finished migration,
    /// not a target still waiting for its state, not a VM that stopped.
    public var occupiesHost: Bool {
        switch self {
        case .postmigrate, .inmigrate, .shutdown: false
        default: true
        }
    }
}

/// A live migration's status, as QEMU's `query-migrate` names it, plus `error` for one the
/// agent could not even start.
public enum MigrationStatus: QEMUWord {
    case none, setup, active, preSwitchover, device, completed, failed, cancelling, cancelled, error
    case other(String)

    public static let named: [(MigrationStatus, String)] = [
        (.none, "none"), (.setup, "setup"), (.active, "active"), (.preSwitchover, "pre-switchover"), (.device, "device"),
        (.completed, "completed"), (.failed, "failed"), (.cancelling, "cancelling"), (.cancelled, "cancelled"), (.error, "error"),
    ]

    public var unknownWord: String? {
        if case .other(let text) = self { return text }
        return nil
    }

    /// It ended, one way or the other: nothing more will happen to it.
    public var isFinished: Bool {
        switch self {
        case .completed, .failed, .cancelled, .error: true
        default: false
        }
    }

    /// It ended without moving the VM.
    public var isFailure: Bool { isFinished && self != .completed }
}
