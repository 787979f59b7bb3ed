import TetherModel

/// A failed request on a VM's disk, as QEMU reports it (`BLOCK_IO_ERROR`). With the network
/// disk's `werror`/`rerror=stop` the action is `stop`: the VM is paused in `io-error`, the
/// request held until `cont`.
public struct DiskIOError: Sendable, Equatable, Codable {
    /// The block node the request failed on (the disk's format node).
    public var node: String
    /// `read`, `write` or `flush`... as QEMU words it.
    public var operation: String
    /// What QEMU did about it: `stop`, `report` or `ignore`.
    public var action: String
    public var reason: String
    /// QEMU's timestamp, seconds since the epoch.
    public var timestamp: Double

    public init(node: String, operation: String, action: String, reason: String, timestamp: Double) {
        self.node = node
        self.operation = operation
        self.action = action
        self.reason = reason
        self.timestamp = timestamp
    }

    /// The error a `BLOCK_IO_ERROR` event carries; nil for any other event.
    init?(_ event: QMPEvent) {
        guard event.name == "BLOCK_IO_ERROR" else { return nil }
        self.init(node: event.data["node-name"]?.string ?? event.data["device"]?.string ?? "",
                  operation: event.data["operation"]?.string ?? "", action: event.data["action"]?.string ?? "",
                  reason: event.data["reason"]?.string ?? "", timestamp: event.timestamp)
    }
}

/// What a disk path switch did, with its timings (`switchDiskPath(to:)`).
public struct DiskPathSwitch: Sendable, Equatable, Codable {
    /// The path the disk used before; nil when QEMU's node did not name one.
    public var from: NBDPath?
    public var to: NBDPath
    /// The VM's state when the switch began, and when it returned.
    public var stateBefore: VMRunState
    public var stateAfter: VMRunState
    /// From the call until the disk's requests went to the new path (the mirror job completed).
    public var pivotMs: Double
    /// The whole call, the old nodes' removal and the VM's resumption included.
    public var totalMs: Double
    /// How long the VM did not run: from the pause (a planned switch) or the call (a VM in
    /// `io-error`) until the `cont` that resumed it; the whole call for a VM left paused.
    public var pausedMs: Double
    /// How many `cont`s it took to resume a VM paused in `io-error` (0 when it was not).
    public var resumeAttempts: Int
}
