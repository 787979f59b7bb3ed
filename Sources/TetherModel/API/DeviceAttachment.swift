import Foundation

/// A device given to a container's VM: what the controller keeps once an attach has finished,
/// and what a detach undoes.
public struct DeviceAttachment: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Codable {
        /// The device is on the VM's host (it was, or the VM moved there).
        case local
        /// The device stays on its host and reaches the VM over a channel.
        case forward
    }

    /// `VM/HOST/DEVICE`: also the channel's session id, so a relay knows a resumed stream.
    public var id: String
    public var container: String
    public var vm: String
    public var device: DeviceRef
    public var mode: Mode
    /// Where the VM ran when the attachment was made.
    public var vmHost: String
    public var since: Date
    /// Why the VM no longer has the device, when a failover restarted it on another host and
    /// the device could not follow (its host was the one that died). Nil while it has it.
    public var lost: String?
    /// What the device is (`VID:PID` or `VID:PID:SERIAL`), to know it when it is plugged in again,
    /// at its port or, with a serial, at another.
    public var identity: DeviceSelector?

    public init(container: String, vm: String, device: DeviceRef, mode: Mode, vmHost: String, since: Date) {
        self.id = Self.id(vm: vm, device: device)
        self.container = container
        self.vm = vm
        self.device = device
        self.mode = mode
        self.vmHost = vmHost
        self.since = since
    }

    public static func id(vm: String, device: DeviceRef) -> String { "\(vm)/\(device.host)/\(device.id)" }

    /// The device an attachment id (a channel's session) names; nil for any other text.
    public static func device(ofSession session: String) -> DeviceRef? {
        guard let slash = session.firstIndex(of: "/") else { return nil }
        return DeviceRef(String(session[session.index(after: slash)...]))
    }
}
