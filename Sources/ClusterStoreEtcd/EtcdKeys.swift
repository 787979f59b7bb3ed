import Foundation
import TetherModel

/// Tether's keys in etcd, all under one prefix (`/tether` by default) so that several clusters,
/// or a test per directory, can share one etcd.
///
/// - `registrations/HOST`, `attachments/ID`, `traffic/HOST/PORT`: records in the API's JSON.
/// - `attachments-version`: rewritten with every change of attachments, so that a transaction
///   that computed changes from the attachments it read can require that none changed since.
/// - `operations/SEQ` (20 digits: key order is journal order) and `steps/SEQ/N` (6 digits): the
///   journal; a step is a key of its own, appended, never rewritten.
/// - `next-operation`: the last sequence number taken.
/// - `running/device/SUBJECT`, `running/vm/VM/SEQ`, `running/migration/VM`: the journal's rules
///   as keys that exist while an operation runs, which a transaction requires absent.
/// - `leader`, `controllers/NAME`: the election, each under its controller's lease.
struct EtcdKeys: Sendable {
    let prefix: String

    init(prefix: String) {
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    }

    func key(_ path: String) -> Data { Data("\(prefix)/\(path)".utf8) }

    /// The range of every key that starts with `path`: [path, path with its last byte plus one).
    func range(_ path: String) -> (key: Data, end: Data) {
        let start = key(path)
        var end = start
        end[end.count - 1] += 1
        return (start, end)
    }

    func registration(_ host: String) -> Data { key("registrations/\(host)") }
    var registrations: (key: Data, end: Data) { range("registrations/") }
    func attachment(_ id: String) -> Data { key("attachments/\(id)") }
    var attachments: (key: Data, end: Data) { range("attachments/") }
    var attachmentsVersion: Data { key("attachments-version") }
    func traffic(_ device: DeviceRef) -> Data { key("traffic/\(device)") }
    var traffic: (key: Data, end: Data) { range("traffic/") }

    static func padded(_ seq: Int) -> String {
        let digits = String(seq)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    func operation(_ seq: Int) -> Data { key("operations/\(Self.padded(seq))") }
    var operations: (key: Data, end: Data) { range("operations/") }
    func step(_ seq: Int, _ index: Int) -> Data {
        let digits = String(index)
        return key("steps/\(Self.padded(seq))/\(String(repeating: "0", count: max(0, 6 - digits.count)) + digits)")
    }
    func steps(_ seq: Int) -> (key: Data, end: Data) { range("steps/\(Self.padded(seq))/") }
    /// Every step of operations `first...last`, in order.
    func steps(_ first: Int, through last: Int) -> (key: Data, end: Data) {
        (key("steps/\(Self.padded(first))/"), key("steps/\(Self.padded(last))0"))
    }
    var nextOperation: Data { key("next-operation") }

    func runningDevice(_ subject: String) -> Data { key("running/device/\(subject)") }
    func runningOnVM(_ vm: String, _ seq: Int) -> Data { key("running/vm/\(vm)/\(Self.padded(seq))") }
    func runningOnVM(_ vm: String) -> (key: Data, end: Data) { range("running/vm/\(vm)/") }
    var runningOnAnyVM: (key: Data, end: Data) { range("running/vm/") }
    func runningMigration(_ vm: String) -> Data { key("running/migration/\(vm)") }

    var leader: Data { key("leader") }
    func controller(_ name: String) -> Data { key("controllers/\(name)") }
    var controllers: (key: Data, end: Data) { range("controllers/") }

    /// The sequence number of an operation id (`op-42`), which names its keys.
    static func sequence(of id: String) -> Int? {
        guard id.hasPrefix("op-"), let n = Int(id.dropFirst(3)), n > 0 else { return nil }
        return n
    }
}
