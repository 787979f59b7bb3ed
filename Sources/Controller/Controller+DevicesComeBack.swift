import Foundation
import TetherModel

/// Devices come back by themselves. A device pulled out while attached is listed as lost; when it
/// is plugged in again (the same VID:PID:SERIAL at any port of its host, or the same product at
/// the same port) it is given to its VM again. An agent that restarted has none of the exports
/// and channel ends it held, and a VM that started over has none of its usb-redir devices: each
/// of their attachments is given again from the controller's records. Giving is the attach's
/// own two calls (export, channel), both idempotent at the agents, retried until they answer.
extension Controller {
    static func identity(_ device: RegisteredDevice) -> DeviceSelector? {
        guard let vendor = device.vendorId?.lowercased(), let product = device.productId?.lowercased() else { return nil }
        return .product(vendorId: vendor, productId: product, serial: device.serial)
    }

    /// What changed for the attachments that involve a host that registered: called with the
    /// registration it replaced.
    func noteDevices(from before: AgentRegistration?, to after: AgentRegistration) async {
        let host = after.host, time = now()
        let restarted = before?.agentStarted != after.agentStarted
        // Running again after anything else (started, restarted after a crash, arrived).
        let startedOver = Set(after.vms.filter { vm in
            vm.status == .running && before?.vms.first(where: { $0.name == vm.name })?.status != .running
        }.map(\.name))
        for var attachment in attachments.values.sorted(by: { $0.id < $1.id }) {
            if attachment.device.host == host {
                let identity = attachment.identity ?? before?.devices.first { $0.id == attachment.device.id }.flatMap(Self.identity)
                let atPort = after.devices.first { $0.id == attachment.device.id }
                let was = before?.devices.first { $0.id == attachment.device.id }
                if let atPort, identity.map({ $0.matches(atPort, on: host) }) ?? true {
                    if attachment.lost != nil {
                        attachment.lost = nil
                        attachment.identity = identity
                        await update(attachment, replacing: nil, event: "back", detail: "\(attachment.device) is plugged in again")
                    } else if restarted || was?.bus != atPort.bus || was?.address != atPort.address {
                        toGiveBack[attachment.id] = time
                    }
                    continue
                }
                if case .product(_, _, let serial?)? = identity,
                   let elsewhere = after.devices.first(where: { identity!.matches($0, on: host) && $0.id != attachment.device.id }),
                   !attachments.values.contains(where: { $0.device == DeviceRef(host: host, id: elsewhere.id) }) {
                    // The same device (by serial) at another port: the attachment follows it.
                    var moved = DeviceAttachment(container: attachment.container, vm: attachment.vm, device: DeviceRef(host: host, id: elsewhere.id),
                                                 mode: attachment.mode, vmHost: attachment.vmHost, since: attachment.since)
                    moved.identity = identity
                    toClose[attachment.id] = attachment
                    await update(moved, replacing: attachment.id, event: "back",
                                 detail: "\(serial) is plugged in again at \(host)/\(elsewhere.id) (it was at \(attachment.device.id))")
                    continue
                }
                if attachment.lost == nil {
                    attachment.lost = "unplugged from \(host) at \(Self.clock(time)); given back when it is plugged in again"
                    attachment.identity = identity
                    await update(attachment, replacing: nil, event: "lost", detail: attachment.lost!)
                }
            } else if attachment.vmHost == host, attachment.lost == nil, restarted || startedOver.contains(attachment.vm) {
                toGiveBack[attachment.id] = time
            }
        }
    }

    private func update(_ attachment: DeviceAttachment, replacing old: String?, event: String, detail: String) async {
        do {
            guard try await store.updateAttachment(attachment, replacing: old) else { return }   // detached meanwhile
        } catch {
            // Unsaved, the change is made again at the host's next registration.
            events.append(ClusterEvent(at: now(), kind: .device, host: attachment.device.host, subject: attachment.id, from: nil,
                                       to: "unsaved", detail: [detail, error.message]))
            return
        }
        if let old { attachments[old] = nil }
        attachments[attachment.id] = attachment
        model = nil
        if attachment.lost == nil { toGiveBack[attachment.id] = now() }
        events.append(ClusterEvent(at: now(), kind: .device, host: attachment.device.host, subject: attachment.id, from: nil, to: event,
                                   detail: [detail]))
    }

    /// Called four times a second (tetherd's `HealthWatch`): gives what is due, closes what a
    /// device left behind at its old port. A VM that an operation is moving is left to it.
    public func giveDevicesBack() async {
        let time = now()
        let down = downHosts(at: time)
        for (session, old) in toClose.sorted(by: { $0.key < $1.key }) where operating[old.vm] == nil {
            do {
                if !down.contains(old.vmHost) { try await agent(for: old.vmHost).closeChannel(session: session, vm: old.vm) }
                if !down.contains(old.device.host) { try await agent(for: old.device.host).stopExport(session: session) }
                toClose[session] = nil
            } catch {}
        }
        for (id, due) in toGiveBack.sorted(by: { $0.key < $1.key }) where due <= time {
            guard let attachment = attachments[id], attachment.lost == nil else {
                toGiveBack[id] = nil
                continue
            }
            guard operating[attachment.vm] == nil, !down.contains(attachment.device.host), !down.contains(attachment.vmHost) else { continue }
            let local = attachment.vmHost == attachment.device.host
            do {
                let address = try await agent(for: attachment.device.host).export(
                    ExportRequest(session: id, device: attachment.device.id, local: local, allow: [attachment.vmHost]))
                guard attachments[id]?.lost == nil, operating[attachment.vm] == nil else { continue }
                try await agent(for: attachment.vmHost).openChannel(
                    ChannelRequest(session: id, vm: attachment.vm, from: address, deviceHost: attachment.device.host, local: local))
                toGiveBack[id] = nil
                events.append(ClusterEvent(at: now(), kind: .device, host: attachment.device.host, subject: id, from: nil, to: "given",
                                           detail: ["\(attachment.vm) on \(attachment.vmHost) has \(attachment.device) again (exported at \(address))"]))
            } catch {
                toGiveBack[id] = now().addingTimeInterval(2)
            }
        }
    }

    static func clock(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}
