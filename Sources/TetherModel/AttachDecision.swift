/// `tether plan --attach`: what to do so that a container's VM can use a device.
public struct AttachDecision: Sendable, Equatable, Codable {
    public init(action: Action, container: String, vm: String, vmHost: String, device: String, targetHost: String?,
                requiredBitsPerSecond: Int, allocatedBitsPerSecond: Int, migrateThresholdPercent: Int, reasons: [String],
                forwardedAfterMove: [String]?) {
        self.action = action
        self.container = container
        self.vm = vm
        self.vmHost = vmHost
        self.device = device
        self.targetHost = targetHost
        self.requiredBitsPerSecond = requiredBitsPerSecond
        self.allocatedBitsPerSecond = allocatedBitsPerSecond
        self.migrateThresholdPercent = migrateThresholdPercent
        self.reasons = reasons
        self.forwardedAfterMove = forwardedAfterMove
    }

    public enum Action: String, Sendable, Codable {
        /// The device is on the VM's own host.
        case local
        /// Live-migrate the VM to the device's host.
        case migrate
        /// Forward the device over a network channel from its host to the VM's host.
        case forward
        /// Neither fits.
        case reject
    }

    public var action: Action
    public var container: String
    public var vm: String
    /// Where the VM runs now.
    public var vmHost: String
    public var device: String
    /// For `migrate`: the device's host.
    public var targetHost: String?
    public var requiredBitsPerSecond: Int
    public var allocatedBitsPerSecond: Int
    public var migrateThresholdPercent: Int
    /// Why this action; for a wanted migration that was infeasible, why not. Never empty.
    public var reasons: [String]
    /// For `migrate`: the VM's other devices, which stay on their hosts and are forwarded.
    public var forwardedAfterMove: [String]?
    /// A migration decided again for a device already forwarded to the VM, on what it was seen
    /// to use: undoing it leaves the channel that was there before.
    public var rebalance: Bool?
}
