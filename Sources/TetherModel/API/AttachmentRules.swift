/// What finishing an operation does to the attachments in force: one rule, used by the
/// controller's memory and by every store in its transaction, so they cannot disagree.
public struct AttachmentChanges: Sendable, Equatable {
    /// Attachments to save (new, or changed), by id.
    public var saved: [DeviceAttachment] = []
    /// Ids of attachments that end.
    public var removed: [String] = []

    public init(saved: [DeviceAttachment] = [], removed: [String] = []) {
        self.saved = saved
        self.removed = removed
    }

    /// Applies the changes to attachments kept by id.
    public func apply(to attachments: inout [String: DeviceAttachment]) {
        for id in removed { attachments[id] = nil }
        for attachment in saved { attachments[attachment.id] = attachment }
    }
}

extension OperationRecord {
    /// The changes a completed operation makes, given the attachments in force before it. A
    /// completed attach saves its attachment; one that migrated the VM also takes the VM's other
    /// (forwarded) devices along: their channels now end on its new host. A completed detach
    /// removes its attachment. A completed failover takes them to the VM's new host (lost, for a
    /// restart whose devices could not follow). An operation that did not complete changes nothing.
    public func attachmentChanges(given current: some Sequence<DeviceAttachment>) -> AttachmentChanges {
        guard state == .completed else { return AttachmentChanges() }
        switch payload {
        case .detach(let attachment, _):
            return AttachmentChanges(removed: [attachment.id])
        case .failover(let order):
            // The VM's forwarded devices follow it; their channels now end on its new host. A
            // VM restarted on another host lost those its old host had (the `devices` step says
            // which), and keeps them listed as lost; one restarted in place keeps them all.
            guard order.target != order.from else { return AttachmentChanges() }
            var lost: [String: String] = [:]
            if case .devices(let reasons) = output(of: "devices") { lost = reasons }
            return AttachmentChanges(saved: current.filter { $0.vm == order.vm && ($0.vmHost != order.target || lost[$0.id] != nil) }.map {
                var moved = $0
                moved.vmHost = order.target
                moved.lost = lost[$0.id]
                return moved
            })
        case .attach(let attachment, _):
            var saved: [DeviceAttachment] = []
            if let target = migrationTarget {
                for var other in current where other.vm == attachment.vm && other.id != attachment.id && other.vmHost != target {
                    other.vmHost = target
                    saved.append(other)
                }
            }
            saved.append(attachment)
            return AttachmentChanges(saved: saved)
        }
    }
}
