import TetherModel

/// The explicit steps of an operation, in order. Pure: the journal records them by these
/// names, and a restarted controller replays the same list.
public enum OperationStep: String, Sendable, CaseIterable {
    /// Start the VM on the device's host, waiting for its state, with its forwarded devices'
    /// channel ends ready there on the same ports (they follow the VM).
    case prepareIncoming = "prepare-incoming"
    /// Live-migrate the VM there, and follow it to the end.
    case migrate
    /// Quit the source's stopped copy, so that only one copy of the VM exists.
    case releaseSource = "release-source"
    /// Export the device on its host (behind a TLS relay unless the VM is on that host).
    case export
    /// Give the VM the device: relay end and usb-redir on the VM's host.
    case channel
    case closeChannel = "close-channel"
    case stopExport = "stop-export"

    public static func plan(for operation: OperationRecord) -> [OperationStep] {
        switch operation.kind {
        case .detach: [.closeChannel, .stopExport]
        case .attach:
            operation.decision.action == .migrate ? [.prepareIncoming, .migrate, .releaseSource, .export, .channel] : [.export, .channel]
        }
    }

    /// Undoing an attach: its channel and export go; a migration that completed stays (the VM
    /// runs once, on its new host), and a target that never received the VM is quit.
    public static func undo(for operation: OperationRecord) -> [OperationStep] {
        operation.kind == .attach ? [.closeChannel, .stopExport] : []
    }
}

/// Which failures are worth another try: an agent that did not answer may answer soon; one that
/// said the request is wrong will say it again.
enum RetryPolicy {
    static func isTransient(_ error: TetherError) -> Bool {
        switch error.code {
        case .io, .timeout, .interrupted, .busy: true
        default: false
        }
    }
}
