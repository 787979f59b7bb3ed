import Failover
import Foundation
import TetherModel

/// A VM restarted from its disk on another host (its host dead, or down when it crashed) starts
/// without the USB devices it had: a fresh QEMU. Those plugged into a living host are forwarded
/// to it again; those plugged into the host it left went with that host, and stay listed as
/// lost (`tether status`), never silently dropped.
extension Controller {
    /// Best effort, device by device: a device that cannot follow is reported lost with why, and
    /// the VM runs on without it (a restart is not undone for a device).
    func followDevices(of vm: String, restartedOn target: String, from left: String) async -> (detail: String?, output: StepOutput?) {
        guard target != left else { return ("\(vm) restarted in place keeps its devices", nil) }
        let had = attachments.values.filter { $0.vm == vm }.sorted { $0.id < $1.id }
        guard !had.isEmpty else { return ("\(vm) had no devices", nil) }
        var followed: [String] = []
        var lost: [String: String] = [:]
        for attachment in had {
            let deviceHost = attachment.device.host
            if let reason = attachment.lost {
                lost[attachment.id] = reason
                continue
            }
            if deviceHost == left {
                lost[attachment.id] = "\(deviceHost), where the device is plugged in, is the host \(vm) was restarted away from"
                continue
            }
            let local = deviceHost == target
            do {
                let address = try await agent(for: deviceHost).export(
                    ExportRequest(session: attachment.id, device: attachment.device.id, local: local, allow: [target]))
                try await agent(for: target).openChannel(
                    ChannelRequest(session: attachment.id, vm: vm, from: address, deviceHost: deviceHost, local: local))
                followed.append(attachment.id)
            } catch {
                lost[attachment.id] = "it could not be forwarded to \(target): \(error)"
            }
        }
        var detail: [String] = []
        if !followed.isEmpty { detail.append("forwarded to \(target): \(followed.joined(separator: ", "))") }
        detail += lost.sorted { $0.key < $1.key }.map { "\($0.key) lost: \($0.value)" }
        return (detail.joined(separator: "; "), .devices(lost: lost))
    }
}
