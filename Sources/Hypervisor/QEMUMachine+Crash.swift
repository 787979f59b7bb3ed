import Foundation
import TetherModel

/// A guest in trouble, as QEMU reports it: a pvpanic `GUEST_PANICKED`, or a watchdog that fired;
/// and a guest that started over (`RESET`: restarted by Tether or by an operator), whose trouble
/// is over.
public struct GuestTrouble: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, Codable { case panicked, watchdog, reset }
    public var kind: Kind
    /// What QEMU did about it (`pause`, `none`, `reset`...), as it says.
    public var action: String
    /// QEMU's timestamp, seconds since the epoch.
    public var timestamp: Double

    init?(_ event: QMPEvent) {
        switch event.name {
        case "GUEST_PANICKED": kind = .panicked
        case "WATCHDOG": kind = .watchdog
        case "RESET": kind = .reset
        default: return nil
        }
        action = event.data["action"]?.string ?? ""
        timestamp = event.timestamp
    }
}

extension QEMUMachine {
    /// The guest's panics, watchdog firings and resets from now on.
    public func guestTroubles() -> AsyncStream<GuestTrouble> {
        qmp.events { GuestTrouble($0) }
    }

    /// Write requests completed on the VM's disks so far (`query-blockstats`): while this
    /// moves, the guest is still writing (a crashing guest writes its crash files).
    public func writeOperations() async throws -> Int64 {
        let devices = try await qmp.execute("query-blockstats").array ?? []
        return devices.reduce(0) { $0 + ($1["stats"]?["wr_operations"]?.int ?? 0) }
    }
}
