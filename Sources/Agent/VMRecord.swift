import Foundation
import TetherModel

/// What an agent keeps on disk beside each VM's QMP socket (`NAME.vm.json`): how it was started
/// and how it is registered. A restarted agent adopts the VMs still running instead of starting
/// them again, including those that arrived by migration, which no configuration names.
struct VMRecord: Codable, Equatable {
    var registration: RegisteredVM
    var launch: VMLaunch?
    /// A VM adopted by its socket, from the configuration.
    var qmpSocket: String?
    /// Set when the VM left by live migration: a configured VM is then not started again here
    /// (it runs on that host now); delete the record to start it here once more.
    var movedTo: String?

    init(registration: RegisteredVM, launch: VMLaunch?, qmpSocket: String?, movedTo: String? = nil) {
        self.registration = registration
        self.launch = launch
        self.qmpSocket = qmpSocket
        self.movedTo = movedTo
    }

    init(_ configured: ManagedVMConfiguration) {
        self.init(registration: configured.registration, launch: configured.launch, qmpSocket: configured.qmpSocket)
    }

    static func path(_ name: String, in directory: String) -> String { "\(directory)/\(name).vm.json" }

    func save(in directory: String) throws {
        try APIJSON.encoder().encode(self).write(to: URL(fileURLWithPath: Self.path(registration.name, in: directory)), options: .atomic)
    }

    static func remove(_ name: String, in directory: String) {
        try? FileManager.default.removeItem(atPath: path(name, in: directory))
    }

    /// Every readable record in `directory`, by VM name (an unreadable one is skipped: the VM it
    /// described is then started from the configuration, or not at all).
    static func all(in directory: String) -> [String: VMRecord] {
        var records: [String: VMRecord] = [:]
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".vm.json") {
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(file)"),
                  let record = try? APIJSON.decoder().decode(VMRecord.self, from: data) else { continue }
            records[record.registration.name] = record
        }
        return records
    }
}
