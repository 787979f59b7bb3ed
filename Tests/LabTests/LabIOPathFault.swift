import Foundation
import Lab
import TetherModel

/// The lab's IO-path fault (`Lab.IOPathFault`) on the shared lab, healed whatever happens.
enum LabIOPathFault {
    /// `refuseNew: false` breaks only the connections the VM has: a fresh one works.
    static func cut(_ vm: String, on host: String, refuseNew: Bool = true) async throws {
        try IOPathFault.cut(vm, on: host, directory: SharedLab.directory, refuseNew: refuseNew)
    }

    /// Cuts, runs `body`, and heals whatever `body` did.
    static func whileCut(_ vm: String, on host: String, refuseNew: Bool = true, _ body: () async throws -> Void) async throws {
        try await cut(vm, on: host, refuseNew: refuseNew)
        do {
            try await body()
        } catch {
            try? await heal(on: host)
            throw error
        }
        try await heal(on: host)
    }

    static func heal(on host: String) async throws {
        try IOPathFault.heal(on: host)
    }
}
