import Foundation
import TetherModel

/// Devices come back by themselves. A device pulled out while attached is listed as lost; when it
/// is plugged in again (the same VID:PID:SERIAL at any port of its host, or the same product at
/// the same port) it is given to its VM again. An agent that restarted has none of the exports
/// and channel ends it held, and a VM that started over has none of its usb-redir devices: each
/// of their attachments is given again from the controller's records. Giving is the attach's
/// own two calls (export, channel), both idempotent at the agents, retried until they answer.
extension Controller {
    static func identity(_ device: RegisteredDevice) -> DeviceSelector? { TrafficBook.identity(device) }

    /// What changed for the attachments that involve a host that registered: called with the
    /// registration it replaced.
    func noteDevices(from before: AgentRegistration?, to after: AgentRegistration) async {
        let host = after.host, time = now()
        let restarted = before?.agentStarted != after.agentStarted
        // Running again after anything else (started, restarted after a crash, arrived).
        let startedOver = Set(after.vms.filter { vm in
            vm.status == .running && before?.vms.first(where: { $0.name == vm.name })?.status != .running
        }.map(\.name))
        for id in attachments.keys.sorted() {
            // Read again at each turn: the awaits below let operations finish meanwhile.
            guard var attachment = attachments[id] else { continue }
            if operating[attachment.vm] != nil {
                // An operation is changing this VM's devices: look again once it has ended.
                recheck.insert(host)
                continue
            }
            if attachment.device.host == host {
                let identity = attachment.identity ?? before?.devices.first { $0.id == attachment.device.id }.flatMap(Self.identity)
                let atPort = after.devices.first { $0.id == attachment.device.id }
                let was = before?.devices.first { $0.id == attachment.device.id }
                if let atPort, identity.map({ $0.matches(atPort, on: host) }) ?? true {
                    if attachment.lost != nil {
                        attachment.lost = nil
                        attachment.identity = identity
                        await update(attachment, replacing: nil, event: "back", detail: "\(attachment.device) is plugged in again")
                    } else if restarted || was?.bus != atPort.bus || was?.address != atPort.address
                                || (attachment.vmHost == host && startedOver.contains(attachment.vm)) {
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
    /// device left behind at its old port, each in a task of its own (an agent that does not
    /// answer must not hold up the health loop that calls this). A VM that an operation is
    /// moving is left to it, and looked at again once it is done.
    @discardableResult
    public func giveDevicesBack() async -> [Task<Void, Never>] {
        var started: [Task<Void, Never>] = []
        let time = now()
        let down = downHosts(at: time)
        for host in recheck.sorted() where !attachments.values.contains(where: { operating[$0.vm] != nil }) {
            recheck.remove(host)
            if let current = registrations[host] { await noteDevices(from: current, to: current) }
        }
        for (session, old) in toClose.sorted(by: { $0.key < $1.key }) where operating[old.vm] == nil && givingNow.insert(session).inserted {
            started.append(Task {
                defer { self.givingNow.remove(session) }
                do {
                    if !down.contains(old.vmHost) { try await self.agent(for: old.vmHost).closeChannel(session: session, vm: old.vm) }
                    if !down.contains(old.device.host) { try await self.agent(for: old.device.host).stopExport(session: session) }
                    self.toClose[session] = nil
                } catch {}
            })
        }
        for (id, due) in toGiveBack.sorted(by: { $0.key < $1.key }) where due <= time && !givingNow.contains(id) {
            guard let attachment = attachments[id], attachment.lost == nil else {
                toGiveBack[id] = nil
                continue
            }
            guard operating[attachment.vm] == nil, !down.contains(attachment.device.host), !down.contains(attachment.vmHost) else { continue }
            givingNow.insert(id)
            started.append(Task {
                defer { self.givingNow.remove(id) }
                await self.give(attachment)
            })
        }
        return started
    }

    /// The attach's two calls again; on failure, tried again in 2 s.
    private func give(_ attachment: DeviceAttachment) async {
        let id = attachment.id
        let local = attachment.vmHost == attachment.device.host
        do {
            let address = try await agent(for: attachment.device.host).export(
                ExportRequest(session: id, device: attachment.device.id, local: local, allow: [attachment.vmHost]))
            // A detach or a move may have begun meanwhile: it decides now.
            guard attachments[id] == attachment, operating[attachment.vm] == nil else { return }
            try await agent(for: attachment.vmHost).openChannel(
                ChannelRequest(session: id, vm: attachment.vm, from: address, deviceHost: attachment.device.host, local: local))
            if toGiveBack[id].map({ $0 <= now() }) ?? false { toGiveBack[id] = nil }
            events.append(ClusterEvent(at: now(), kind: .device, host: attachment.device.host, subject: id, from: nil, to: "given",
                                       detail: ["\(attachment.vm) on \(attachment.vmHost) has \(attachment.device) again (exported at \(address))"]))
        } catch {
            if toGiveBack[id] != nil { toGiveBack[id] = now().addingTimeInterval(2) }
        }
    }

    static func clock(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}
