import TetherModel

/// The explicit steps of operations. Pure: the journal records them by these names, and the
/// state machine walks the same lists after a restart.
public enum OperationStep: String, Sendable, CaseIterable {
    /// Start the VM on the device's host, waiting for its state, with its forwarded devices'
    /// channel ends ready there (they follow the VM).
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
    /// Undo only: quit a target that still waits for a VM that never came.
    case abandonIncoming = "abandon-incoming"
    /// Failover: send the VM's state to the target (taking its disk off a datastore the source
    /// cannot reach first), and follow the migration to the end.
    case evacuate
    /// Failover: run the VM on the target, issuing there the requests that failed on the source.
    case resume
    /// Crash: copy the guest's crash files off its disk once it stopped writing them (QEMU's
    /// memory dump where it wrote none) into its host's crash directory.
    case collectCrash = "collect-crash"
    /// Crash: start the guest again from its disk, on its host; a dead host's VM (or a crashed
    /// one whose host is down): from its disk on the target.
    case restart
    /// After a restart on another host: the VM's devices forwarded from living hosts are
    /// forwarded to the new copy; those plugged into the host it left are reported lost.
    case followDevices = "devices"

    public static func plan(for payload: OperationRecord.Payload) -> [OperationStep] {
        switch payload {
        case .detach: [.closeChannel, .stopExport]
        // Restarted in place, the guest keeps its devices (QEMU's reset keeps them).
        case .failover(let order) where order.fault == .crash:
            order.target == order.from ? [.collectCrash, .restart] : [.collectCrash, .restart, .followDevices]
        // A dead host's VM: nothing to take from it, only its disk to start elsewhere.
        case .failover(let order) where order.mode == .restart: [.restart, .followDevices]
        case .failover: [.prepareIncoming, .evacuate, .resume, .releaseSource]
        case .attach(_, let decision):
            decision.action == .migrate ? [.prepareIncoming, .migrate, .releaseSource, .export, .channel] : [.export, .channel]
        }
    }

    /// Undoing an attach: its channel and export go, and a target that never received the VM is
    /// quit; a migration that completed stays (the VM runs once, on its new host). A detach that
    /// failed leaves what it could not remove for the next detach.
    public static func undo(for payload: OperationRecord.Payload) -> [OperationStep] {
        switch payload {
        case .detach: []
        // A VM whose state reached the target runs there (resume and release go forwards); one
        // whose state did not stays, paused or running, on its host, and the target is quit.
        // A crashed guest's collection and a restart take nothing away: there is nothing to undo
        // (a start from disk that failed left no QEMU behind).
        case .failover(let order) where order.fault == .crash || order.mode == .restart: []
        case .failover: [.abandonIncoming]
        // A rebalance moves a VM to a device it already had over a channel: that channel stays.
        case .attach(_, let decision) where decision.rebalance == true: [.abandonIncoming]
        case .attach(_, let decision): decision.action == .migrate ? [.abandonIncoming, .closeChannel, .stopExport] : [.closeChannel, .stopExport]
        }
    }

    /// How an undo step is named in the journal, apart from the same step run forwards.
    public var undoName: String { "undo:" + rawValue }
}

/// Which failures are worth another try: an agent that did not answer may answer soon; one that
/// said the request is wrong will say it again.
public enum RetryPolicy {
    public static func isTransient(_ error: TetherError) -> Bool {
        switch error.code {
        case .io, .timeout, .interrupted, .busy: true
        default: false
        }
    }
}
