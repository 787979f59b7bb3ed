import ClusterStore
import Foundation
import TetherModel

/// The controller's state in etcd, for a cluster of controllers (`EtcdKeys` lays the keys out).
/// The journal's rules are transactions: each write compares the revisions (or the absence) of
/// the keys it was computed from, so nothing is read, changed and written back unless what was
/// read still stands; a transaction whose comparison fails is read again and retried, or
/// refused as `busy` when a rule forbids it.
///
/// With a `fence`, every write also requires the leader key still to be the one this controller
/// created under its lease: a controller deposed (its lease expired, a successor elected) has
/// its writes refused as `notLeader`, whatever it still believes.
public struct EtcdClusterStore: ClusterStore {
    /// The leader key as a controller's election created it.
    public struct Fence: Sendable, Equatable {
        public let createRevision: Int64
        public let holder: String

        public init(createRevision: Int64, holder: String) {
            self.createRevision = createRevision
            self.holder = holder
        }
    }

    public let client: EtcdClient
    let keys: EtcdKeys
    public let fence: Fence?

    public init(client: EtcdClient, prefix: String = "/tether", fence: Fence? = nil) {
        self.client = client
        self.keys = EtcdKeys(prefix: prefix)
        self.fence = fence
    }

    public var prefix: String { keys.prefix }

    /// The same store, every write of which requires `fence` to stand.
    public func fenced(by fence: Fence) -> EtcdClusterStore {
        EtcdClusterStore(client: client, prefix: keys.prefix, fence: fence)
    }

    // MARK: registrations and attachments

    public func saveRegistration(_ registration: AgentRegistration) async throws(TetherError) {
        let put = EtcdWire.Operation.put(.init(key: keys.registration(registration.host), value: try Self.json(registration)))
        try await write([], [put], "save the registration of \(registration.host)")
    }

    public func registrations() async throws(TetherError) -> [AgentRegistration] {
        let r = keys.registrations
        return try await client.range(.init(key: r.key, rangeEnd: r.end)).kvs.map { kv throws(TetherError) in
            try Self.decode(AgentRegistration.self, kv)
        }
    }

    public func attachments() async throws(TetherError) -> [DeviceAttachment] {
        let r = keys.attachments
        return try await client.range(.init(key: r.key, rangeEnd: r.end)).kvs.map { kv throws(TetherError) in
            try Self.decode(DeviceAttachment.self, kv)
        }
    }

    public func updateAttachment(_ attachment: DeviceAttachment, replacing old: String?) async throws(TetherError) -> Bool {
        let key = keys.attachment(old ?? attachment.id)
        var success: [EtcdWire.Operation] = []
        if let old, old != attachment.id { success.append(.delete(.init(key: key))) }
        success += [.put(.init(key: keys.attachment(attachment.id), value: try Self.json(attachment))),
                    .put(.init(key: keys.attachmentsVersion, value: Data("update \(attachment.id)".utf8)))]
        let reply = try await transaction([.init(key: key, target: .version, result: .greater, number: 0)], success, [],
                                          "update the attachment \(attachment.id)")
        return reply.succeeded
    }

    public func saveObservedTraffic(_ traffic: ObservedTraffic) async throws(TetherError) {
        let put = EtcdWire.Operation.put(.init(key: keys.traffic(traffic.device), value: try Self.json(traffic)))
        try await write([], [put], "save the traffic of \(traffic.device)")
    }

    public func observedTraffic() async throws(TetherError) -> [ObservedTraffic] {
        let r = keys.traffic
        return try await client.range(.init(key: r.key, rangeEnd: r.end)).kvs.map { kv throws(TetherError) in
            try Self.decode(ObservedTraffic.self, kv)
        }
    }

    // MARK: the journal

    public func begin(_ payload: OperationRecord.Payload, at time: Date) async throws(TetherError) -> OperationRecord {
        let draft = OperationRecord(id: "", payload: payload, created: time)
        let vm = draft.vm, subject = draft.subject, migrates = draft.migrationTarget != nil
        let onVM = keys.runningOnVM(vm)
        for _ in 0..<Self.attempts {
            let counter = try await client.range(.init(key: keys.nextOperation)).kvs.first
            let last = try counter.map { kv throws(TetherError) in try Self.number(kv) } ?? 0
            let seq = last + 1
            let record = OperationRecord(id: "op-\(seq)", payload: payload, created: time)
            var compare: [EtcdWire.Compare] = [
                .init(key: keys.nextOperation, target: .mod, result: .equal, number: counter?.modRevision ?? 0),
                .init(key: keys.runningDevice(subject), target: .version, result: .equal, number: 0),
            ]
            // A migration takes its whole VM: nothing else may run on it meanwhile, nor it beside anything.
            compare.append(migrates
                ? .init(key: onVM.key, rangeEnd: onVM.end, target: .version, result: .equal, number: 0)
                : .init(key: keys.runningMigration(vm), target: .version, result: .equal, number: 0))
            var success: [EtcdWire.Operation] = [
                .put(.init(key: keys.nextOperation, value: Data(String(seq).utf8))),
                .put(.init(key: keys.operation(seq), value: try Self.json(record))),
                .put(.init(key: keys.runningDevice(subject), value: Data(record.id.utf8))),
                .put(.init(key: keys.runningOnVM(vm, seq), value: Data((migrates ? "migration" : "channel").utf8))),
            ]
            if migrates { success.append(.put(.init(key: keys.runningMigration(vm), value: Data(record.id.utf8)))) }
            let failure: [EtcdWire.Operation] = [
                .range(.init(key: keys.runningDevice(subject))),
                .range(.init(key: onVM.key, rangeEnd: onVM.end)),
                .range(.init(key: keys.runningMigration(vm))),
            ]
            let reply = try await transaction(compare, success, failure, "journal a new \(draft.kind.rawValue) of \(subject)")
            if reply.succeeded { return record }
            let device = reply.responses[0]?.kvs.first, running = reply.responses[1]?.kvs ?? [], migration = reply.responses[2]?.kvs.first
            let clash = device.map { String(decoding: $0.value, as: UTF8.self) }
                ?? migration.map { String(decoding: $0.value, as: UTF8.self) }
                ?? (migrates ? running.first.flatMap { kv in kv.keyText.split(separator: "/").last.flatMap { Int($0) }.map { "op-\($0)" } } : nil)
            if let clash {
                throw TetherError(.busy, "\(clash) is still running for \(subject) or \(vm); wait for it (tether status) and try again")
            }
            // Only the counter moved (another writer took the number): take the next one.
        }
        throw Self.contended("journal a new \(draft.kind.rawValue) of \(subject)")
    }

    @discardableResult
    public func record(_ step: StepRecord, in id: String) async throws(TetherError) -> OperationRecord {
        let seq = try Self.sequence(id)
        for _ in 0..<Self.attempts {
            let (current, revision, _) = try await load(seq, id)
            guard current.state == .running else {
                throw TetherError(.busy, "\(id) has finished (\(current.state.rawValue)); no step can be added")
            }
            var record = current
            record.steps.append(step)
            record.updated = step.at
            let reply = try await transaction(
                [.init(key: keys.operation(seq), target: .mod, result: .equal, number: revision),
                 .init(key: keys.step(seq, current.steps.count), target: .version, result: .equal, number: 0)],
                [.put(.init(key: keys.step(seq, current.steps.count), value: try Self.json(step))),
                 .put(.init(key: keys.operation(seq), value: try Self.json(Self.header(record))))],
                [], "journal step \(step.step) of \(id)")
            if reply.succeeded { return record }
        }
        throw Self.contended("journal a step of \(id)")
    }

    @discardableResult
    public func finish(_ id: String, as state: OperationRecord.State, error: String?, at time: Date) async throws(TetherError) -> OperationRecord {
        let seq = try Self.sequence(id)
        for _ in 0..<Self.attempts {
            // The operation, the attachments and their version at one revision: one read.
            let all = keys.attachments
            let (current, revision, also) = try await load(seq, id, also: [.init(key: keys.attachmentsVersion),
                                                                             .init(key: all.key, rangeEnd: all.end)])
            guard current.state == .running else { return current }   // finishing twice changes nothing
            let version = also[0]?.kvs.first?.modRevision ?? 0
            let attachments = try (also[1]?.kvs ?? []).map { kv throws(TetherError) in try Self.decode(DeviceAttachment.self, kv) }
            var record = current
            record.state = state
            record.error = error
            record.updated = time
            let changes = record.attachmentChanges(given: attachments)
            var success: [EtcdWire.Operation] = [
                .put(.init(key: keys.operation(seq), value: try Self.json(Self.header(record)))),
                .delete(.init(key: keys.runningDevice(record.subject))),
                .delete(.init(key: keys.runningOnVM(record.vm, seq))),
            ]
            if record.migrationTarget != nil { success.append(.delete(.init(key: keys.runningMigration(record.vm)))) }
            for removed in changes.removed { success.append(.delete(.init(key: keys.attachment(removed)))) }
            for saved in changes.saved { success.append(.put(.init(key: keys.attachment(saved.id), value: try Self.json(saved)))) }
            if !changes.removed.isEmpty || !changes.saved.isEmpty {
                success.append(.put(.init(key: keys.attachmentsVersion, value: Data(id.utf8))))
            }
            let reply = try await transaction(
                [.init(key: keys.operation(seq), target: .mod, result: .equal, number: revision),
                 .init(key: keys.attachmentsVersion, target: .mod, result: .equal, number: version)],
                success, [], "finish \(id)")
            if reply.succeeded { return record }
        }
        throw Self.contended("finish \(id)")
    }

    public func operation(_ id: String) async throws(TetherError) -> OperationRecord? {
        guard let seq = EtcdKeys.sequence(of: id) else { return nil }
        do {
            return try await load(seq, id).record
        } catch where error.code == .notFound {
            return nil
        }
    }

    public func unfinishedOperations() async throws(TetherError) -> [OperationRecord] {
        let r = keys.runningOnAnyVM
        let seqs = try await client.range(.init(key: r.key, rangeEnd: r.end)).kvs
            .compactMap { $0.keyText.split(separator: "/").last.flatMap { Int($0) } }
        var records: [OperationRecord] = []
        for seq in Set(seqs).sorted() {
            guard let record = try await operation("op-\(seq)"), record.state == .running else { continue }
            records.append(record)
        }
        return records
    }

    public func recentOperations(limit: Int) async throws(TetherError) -> [OperationRecord] {
        guard limit > 0 else { return [] }
        let r = keys.operations
        let headers = try await client.range(.init(key: r.key, rangeEnd: r.end, limit: Int64(limit), sortOrder: "DESCEND", sortTarget: "KEY"))
        var records = try headers.kvs.map { kv throws(TetherError) in try Self.decode(OperationRecord.self, kv) }
        guard let newest = records.first.flatMap({ EtcdKeys.sequence(of: $0.id) }),
              let oldest = records.last.flatMap({ EtcdKeys.sequence(of: $0.id) }) else { return records }
        // Every step of the page in one read, at the revision the headers were read at.
        let span = keys.steps(oldest, through: newest)
        let steps = try await client.range(.init(key: span.key, rangeEnd: span.end, revision: headers.header?.revision)).kvs
        var bySeq: [Int: [StepRecord]] = [:]
        for kv in steps {
            let parts = kv.keyText.split(separator: "/")
            guard parts.count >= 2, let seq = Int(parts[parts.count - 2]) else { continue }
            bySeq[seq, default: []].append(try Self.decode(StepRecord.self, kv))
        }
        for i in records.indices { records[i].steps = EtcdKeys.sequence(of: records[i].id).flatMap { bySeq[$0] } ?? [] }
        return records
    }

    // MARK: plumbing

    static let attempts = 32

    /// An operation with its steps, read together (one transaction), and the revision of its
    /// header, which a write computed from it compares; `also`: more ranges read in the same
    /// transaction (what `finish` computes from), answered in order.
    private func load(_ seq: Int, _ id: String, also: [EtcdWire.RangeRequest] = []) async throws(TetherError)
        -> (record: OperationRecord, revision: Int64, also: [EtcdWire.RangeResponse?]) {
        let steps = keys.steps(seq)
        let reads: [EtcdWire.Operation] = [.range(.init(key: keys.operation(seq))), .range(.init(key: steps.key, rangeEnd: steps.end))]
            + also.map { .range($0) }
        let reply = try await client.txn(.init(compare: [], success: reads, failure: []))
        guard reply.responses.count == reads.count, let header = reply.responses[0]?.kvs.first else {
            throw TetherError(.notFound, "no operation '\(id)'")
        }
        var record = try Self.decode(OperationRecord.self, header)
        record.steps = try (reply.responses[1]?.kvs ?? []).map { kv throws(TetherError) in try Self.decode(StepRecord.self, kv) }
        return (record, header.modRevision, Array(reply.responses.dropFirst(2)))
    }

    /// A write: the fence joins the comparisons, and a refusal for its sake is `notLeader`.
    @discardableResult
    private func write(_ compare: [EtcdWire.Compare], _ success: [EtcdWire.Operation], _ what: String) async throws(TetherError) -> EtcdWire.TxnResponse {
        let reply = try await transaction(compare, success, [], what)
        guard reply.succeeded else { throw Self.contended(what) }
        return reply
    }

    private func transaction(_ compare: [EtcdWire.Compare], _ success: [EtcdWire.Operation], _ failure: [EtcdWire.Operation],
                             _ what: String) async throws(TetherError) -> EtcdWire.TxnResponse {
        guard let fence else { return try await client.txn(.init(compare: compare, success: success, failure: failure)) }
        let fenceCheck = EtcdWire.Compare(key: keys.leader, target: .create, result: .equal, number: fence.createRevision)
        let reply = try await client.txn(.init(compare: [fenceCheck] + compare, success: success,
                                               failure: failure + [.range(.init(key: keys.leader))]))
        if !reply.succeeded, reply.responses.last??.kvs.first?.createRevision != fence.createRevision {
            let now = reply.responses.last??.kvs.first.map { String(decoding: $0.value, as: UTF8.self) }
            throw TetherError(.notLeader, "\(fence.holder) no longer leads (its lease on etcd ran out"
                              + (now.map { "; \(Self.leaderName($0)) leads now" } ?? "") + "): the store refused to \(what)")
        }
        guard reply.succeeded else { return EtcdWire.TxnResponse(succeeded: false, responses: Array(reply.responses.dropLast())) }
        return reply
    }

    static func leaderName(_ value: String) -> String {
        (try? APIJSON.decoder().decode(ControllerStatus.self, from: Data(value.utf8)))?.name ?? value
    }

    private static func sequence(_ id: String) throws(TetherError) -> Int {
        guard let seq = EtcdKeys.sequence(of: id) else { throw TetherError(.notFound, "no operation '\(id)'") }
        return seq
    }

    private static func contended(_ what: String) -> TetherError {
        TetherError(.busy, "cannot \(what): the records it depends on kept changing (\(attempts) tries); try again")
    }

    /// An operation's header: the record without its steps, which are keys of their own.
    private static func header(_ record: OperationRecord) -> OperationRecord {
        var header = record
        header.steps = []
        header.progress = nil
        return header
    }

    private static func number(_ kv: EtcdWire.KeyValue) throws(TetherError) -> Int {
        guard let n = Int(String(decoding: kv.value, as: UTF8.self)) else {
            throw TetherError(.io, "etcd holds '\(String(decoding: kv.value, as: UTF8.self))' at \(kv.keyText), not a number")
        }
        return n
    }

    static func json(_ value: some Encodable) throws(TetherError) -> Data {
        do { return try APIJSON.encoder().encode(value) } catch {
            throw TetherError(.internalError, "cannot encode a record", cause: "\(error)")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ kv: EtcdWire.KeyValue) throws(TetherError) -> T {
        do { return try APIJSON.decoder().decode(type, from: kv.value) } catch {
            throw TetherError(.io, "etcd holds a record at \(kv.keyText) that does not decode as \(type)", cause: APIJSON.describe(error))
        }
    }
}
