import Foundation
import Placement
import TetherModel

/// Observed bandwidth: the rates the devices' hosts measure on their relays come with
/// heartbeats, make each device's observed figure (the bulk part of what placement decides on),
/// and a forwarded device whose observed need stays above its VM's migrate threshold is decided
/// again: migrated to (`auto`), reported (`advise`), or left (`off`).
extension Controller {
    func recordTraffic(host: String, _ rates: [DeviceRate]) async {
        let time = now()
        var changed = false
        let devices = registrations[host]?.devices ?? []
        for rate in rates where APINames.isValid(rate.device) {
            let identity = devices.first { $0.id == rate.device }.flatMap(TrafficBook.identity)
            changed = traffic.record(DeviceRef(host: host, id: rate.device), bytesPerSecond: rate.bytesPerSecond, at: time,
                                     window: settings.devices.window, identity: identity) || changed
        }
        if changed { model = nil }
        // Losing a figure costs a better decision later, not a wrong one now: a store that
        // does not answer does not hold up the heartbeat's reply beyond its own timeout.
        for figure in traffic.dueForSaving(at: time) { try? await store.saveObservedTraffic(figure) }
    }

    /// Registrations with each device's bulk figure as placement should see it.
    func withObservedFigures(_ registered: [AgentRegistration]) -> [AgentRegistration] {
        registered.map { r in
            var r = r
            for i in r.devices.indices {
                r.devices[i].bulkBytesPerSecond = traffic.bulk(of: r.devices[i], on: r.host, profiles: settings.devices.profiles).bytesPerSecond
            }
            return r
        }
    }

    /// Where a device's figure came from, for a decision's reasons; nil for the descriptors alone.
    func figureReason(_ ref: DeviceRef) -> String? {
        guard let device = registrations[ref.host]?.devices.first(where: { $0.id == ref.id }) else { return nil }
        let (bulk, source) = traffic.bulk(of: device, on: ref.host, profiles: settings.devices.profiles)
        switch source {
        case .descriptors: return nil
        case .profile: return "\(ref)'s bulk need \(Rate.bits(bulk * 8)) is the configured profile of its product (no traffic seen yet)"
        case .observed:
            let peak = traffic.observed[ref]?.peakBytesPerSecond ?? 0
            return "\(ref) was seen to use \(Rate.bits(peak * 8)) at its peak (within \(Int(settings.devices.window)) s): "
                + "its bulk need is \(Rate.bits(bulk * 8)) beyond the periodic reservation"
        }
    }

    /// Every registered device with its declared and observed figures.
    func deviceFigures() -> [DeviceFigures] {
        let byDevice = Dictionary(attachments.values.map { ($0.device, $0.id) }, uniquingKeysWith: { a, _ in a })
        return registrations.values.sorted { $0.host < $1.host }.flatMap { r in
            r.devices.map { d in
                let ref = DeviceRef(host: r.host, id: d.id)
                let (bulk, source) = traffic.bulk(of: d, on: r.host, profiles: settings.devices.profiles)
                let watched = byDevice[ref].flatMap { rebalancing.watched[$0] }
                return DeviceFigures(device: ref, periodicBytesPerSecond: d.periodicBytesPerSecond,
                                     profileBulkBytesPerSecond: TrafficBook.profile(of: d, in: settings.devices.profiles),
                                     observed: traffic.observed[ref], requiredBitsPerSecond: (d.periodicBytesPerSecond + bulk) * 8,
                                     source: source, aboveThresholdSince: watched?.since, advice: watched?.advice)
            }
        }
    }

    /// The need and allocation of a forwarded attachment whose figure was observed; nil otherwise.
    private func observedNeed(_ a: DeviceAttachment, at time: Date) -> (required: Int, allocated: Int)? {
        // Where the VM runs decides, not the mode it was attached in: a failover or a move
        // changes the one and not the other. And only a figure the channel carries now counts.
        guard a.vmHost != a.device.host, a.lost == nil, traffic.isCurrent(a.device, at: time, window: settings.devices.window),
              let device = registrations[a.device.host]?.devices.first(where: { $0.id == a.device.id }),
              let vm = registrations.values.lazy.flatMap(\.vms).first(where: { $0.name == a.vm && $0.status.occupiesHost })
        else { return nil }
        let (bulk, source) = traffic.bulk(of: device, on: a.device.host, profiles: settings.devices.profiles)
        guard source == .observed else { return nil }
        return ((device.periodicBytesPerSecond + bulk) * 8, vm.networkMbps * 1_000_000)
    }

    /// Called four times a second (tetherd's `HealthWatch`): notes the forwarded devices that
    /// crossed their VM's threshold, and decides again those above it for `rebalanceAfter`.
    public func checkRebalance() async {
        guard settings.devices.rebalance != .off else { return }
        let time = now()
        let threshold = settings.policy.migrateThresholdPercent
        var needs: [String: (required: Int, allocated: Int)] = [:]
        for a in attachments.values { needs[a.id] = observedNeed(a, at: time) }
        let above = Set(needs.filter { $0.value.required * 100 > threshold * $0.value.allocated }.keys)
        for change in rebalancing.update(above: above, at: time, hold: settings.devices.rebalanceAfter) {
            switch change {
            case .rose(let id):
                let share = needs[id].map { AttachPlanner.share(required: $0.required, allocated: $0.allocated, threshold: threshold) }
                events.append(ClusterEvent(at: time, kind: .device, host: attachments[id]?.device.host, subject: id, from: "under-threshold",
                                           to: "above-threshold", detail: [share ?? "", "rebalance \(settings.devices.rebalance.rawValue): "
                                                                            + "decided again after \(Int(settings.devices.rebalanceAfter)) s above it"]))
            case .fell(let id):
                guard attachments[id] != nil else { continue }   // detached: nothing to say
                events.append(ClusterEvent(at: time, kind: .device, host: attachments[id]?.device.host, subject: id, from: "above-threshold",
                                           to: "under-threshold", detail: attachments[id]?.mode == .local ? ["the VM runs with the device now"] : []))
            case .due(let id):
                guard let attachment = attachments[id] else { continue }
                guard operating[attachment.vm] == nil else {
                    rebalancing.retry(id)   // an operation moves the VM or its devices now: after it
                    continue
                }
                await decideAgain(attachment, at: time)
            }
        }
    }

    /// A forwarded device's need outgrew its channel: the attach decision again, on the observed
    /// figure. `auto` journals the migration (the same flow as an attach that migrates; the
    /// channel carries the device's stream on across the move), `advise` says what it would do.
    private func decideAgain(_ attachment: DeviceAttachment, at time: Date) async {
        let model = warmModel()
        var decision: AttachDecision
        do {
            decision = try AttachPlanner.decide(container: attachment.container, vm: attachment.vm, device: attachment.device, model.index,
                                                state: model.state)
        } catch {
            rebalancing.advise(attachment.id, "cannot decide again: \(error.message)")
            return
        }
        if let reason = figureReason(attachment.device) { decision.reasons.insert(reason, at: 0) }
        let policy = settings.devices.rebalance
        guard decision.action == .migrate, let target = decision.targetHost else {
            let advice = "keep forwarding: \(decision.reasons.last ?? "no move fits")"
            rebalancing.advise(attachment.id, advice)
            events.append(ClusterEvent(at: time, kind: .device, host: attachment.device.host, subject: attachment.id, from: nil,
                                       to: "stays-forwarded", detail: decision.reasons))
            return
        }
        guard policy == .auto else {
            rebalancing.advise(attachment.id, "migrate \(attachment.vm) to \(target) (`rebalance: auto` would)")
            events.append(ClusterEvent(at: time, kind: .device, host: attachment.device.host, subject: attachment.id, from: nil,
                                       to: "advise-migrate", detail: decision.reasons))
            return
        }
        decision.rebalance = true
        decision.reasons.insert("rebalance: \(attachment.device) outgrew its channel to \(attachment.vm)", at: 0)
        var moved = attachment
        moved.mode = .local
        moved.vmHost = target
        do {
            let operation = try await store.begin(.attach(moved, decision: decision), at: time)
            launch(operation)
            rebalancing.advise(attachment.id, "\(operation.id) migrates \(attachment.vm) to \(target)")
            events.append(ClusterEvent(at: time, kind: .device, host: attachment.device.host, subject: attachment.id, from: nil,
                                       to: "migrating", detail: ["\(operation.id)"] + decision.reasons))
            ControllerMetrics.rebalanced()
        } catch {
            // Something else runs on the VM or device (a detach, a failover): try again once it ends.
            rebalancing.restart(attachment.id, at: time)
            rebalancing.advise(attachment.id, "waiting: \(error.message)")
        }
    }
}
