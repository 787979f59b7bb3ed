import ClusterStore
import Foundation
import TetherModel

extension EtcdClusterStore {
    /// What an import wrote.
    public struct ImportCount: Sendable, Equatable {
        public var registrations = 0, attachments = 0, operations = 0, steps = 0, traffic = 0
    }

    /// Copies another store's whole state in, ids and journal order kept (`tether store migrate`).
    /// Refused once this store has a journal of its own (its counter is set). Written
    /// in transactions of at most etcd's 128 operations, each requiring the store still new; the
    /// journal's counter comes last, so an import cut short leaves a store that is still new,
    /// and running it again writes the same keys.
    public func importState(from source: any ClusterStore) async throws(TetherError) -> ImportCount {
        let registrations = try await source.registrations()
        let attachments = try await source.attachments()
        let operations = try await source.recentOperations(limit: Int.max).reversed()
        var puts: [EtcdWire.Operation] = []
        var count = ImportCount()
        for r in registrations { puts.append(.put(.init(key: keys.registration(r.host), value: try Self.json(r)))) }
        count.registrations = registrations.count
        for a in attachments { puts.append(.put(.init(key: keys.attachment(a.id), value: try Self.json(a)))) }
        count.attachments = attachments.count
        let traffic = try await source.observedTraffic()
        for t in traffic { puts.append(.put(.init(key: keys.traffic(t.device), value: try Self.json(t)))) }
        count.traffic = traffic.count
        var last = 0
        for record in operations {
            guard let seq = EtcdKeys.sequence(of: record.id) else {
                throw TetherError(.invalidArgument, "operation '\(record.id)' has no sequence number (op-N); it cannot keep its id in etcd")
            }
            last = max(last, seq)
            var header = record
            header.steps = []
            header.progress = nil
            puts.append(.put(.init(key: keys.operation(seq), value: try Self.json(header))))
            for (index, step) in record.steps.enumerated() { puts.append(.put(.init(key: keys.step(seq, index), value: try Self.json(step)))) }
            count.steps += record.steps.count
            if record.state == .running {
                puts.append(.put(.init(key: keys.runningDevice(record.subject), value: Data(record.id.utf8))))
                let migrates = record.migrationTarget != nil
                puts.append(.put(.init(key: keys.runningOnVM(record.vm, seq), value: Data((migrates ? "migration" : "channel").utf8))))
                if migrates { puts.append(.put(.init(key: keys.runningMigration(record.vm), value: Data(record.id.utf8)))) }
            }
        }
        count.operations = operations.count
        let stillNew = EtcdWire.Compare(key: keys.nextOperation, target: .version, result: .equal, number: 0)
        var batches = stride(from: 0, to: puts.count, by: 100).map { Array(puts[$0..<min($0 + 100, puts.count)]) }
        batches.append([.put(.init(key: keys.nextOperation, value: Data(String(last).utf8)))])
        for batch in batches {
            let reply = try await client.txn(.init(compare: [stillNew], success: batch, failure: []))
            guard reply.succeeded else {
                throw TetherError(.busy, "the etcd store under \(keys.prefix) already has a journal; import into a new prefix or an empty etcd")
            }
        }
        return count
    }
}
