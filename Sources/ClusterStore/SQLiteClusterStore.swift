import Foundation
import GRDB
import TetherModel

/// The embedded store: one SQLite file, written through GRDB. Records are kept as JSON in the
/// API's own encoding, with the columns the journal's rules need beside them.
public final class SQLiteClusterStore: ClusterStore {
    private let queue: DatabaseQueue
    public let path: String

    /// Opens (creating when missing) the store at `path`.
    public init(path: String) throws(TetherError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // FULL: a journaled step survives a power cut as well as a killed process.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try Self.migrator.migrate(queue)
        } catch {
            throw TetherError(.io, "cannot open the store at \(path)", cause: "\(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE registration (host TEXT PRIMARY KEY, body TEXT NOT NULL);
                CREATE TABLE attachment (id TEXT PRIMARY KEY, body TEXT NOT NULL);
                CREATE TABLE operation (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    state TEXT NOT NULL,
                    vm TEXT NOT NULL,
                    device TEXT NOT NULL,
                    body TEXT NOT NULL
                );
                CREATE UNIQUE INDEX one_running_operation_per_device ON operation(device) WHERE state = 'running';
                CREATE UNIQUE INDEX one_running_operation_per_vm ON operation(vm) WHERE state = 'running';
                CREATE TABLE step (
                    operation TEXT NOT NULL REFERENCES operation(id),
                    seq INTEGER NOT NULL,
                    body TEXT NOT NULL,
                    PRIMARY KEY (operation, seq)
                );
                """)
        }
        migrator.registerMigration("v2: only a migration takes its whole VM") { db in
            // Channels to one VM are independent of each other; only a migration must not
            // overlap anything else on its VM. That rule is kept in `begin`, in the transaction.
            try db.execute(sql: """
                DROP INDEX one_running_operation_per_vm;
                ALTER TABLE operation ADD COLUMN migrates INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v3: what devices were seen to use") { db in
            try db.execute(sql: "CREATE TABLE traffic (device TEXT PRIMARY KEY, body TEXT NOT NULL)")
        }
        return migrator
    }

    // MARK: registrations and attachments

    public func saveRegistration(_ registration: AgentRegistration) async throws(TetherError) {
        let body = try Self.json(registration)
        try await write("save the registration of \(registration.host)") { db in
            try db.execute(sql: "INSERT OR REPLACE INTO registration (host, body) VALUES (?, ?)", arguments: [registration.host, body])
        }
    }

    public func registrations() async throws(TetherError) -> [AgentRegistration] {
        let bodies = try await read("read registrations") { db in try String.fetchAll(db, sql: "SELECT body FROM registration ORDER BY host") }
        return try bodies.map { (body: String) throws(TetherError) in try Self.decode(AgentRegistration.self, body) }
    }

    public func attachments() async throws(TetherError) -> [DeviceAttachment] {
        let bodies = try await read("read attachments") { db in try String.fetchAll(db, sql: "SELECT body FROM attachment ORDER BY id") }
        return try bodies.map { (body: String) throws(TetherError) in try Self.decode(DeviceAttachment.self, body) }
    }

    public func updateAttachment(_ attachment: DeviceAttachment, replacing old: String?) async throws(TetherError) -> Bool {
        let body = try Self.json(attachment)
        return try await write("update the attachment \(attachment.id)") { db in
            let key = old ?? attachment.id
            guard try String.fetchOne(db, sql: "SELECT id FROM attachment WHERE id = ?", arguments: [key]) != nil else { return false }
            try db.execute(sql: "DELETE FROM attachment WHERE id = ?", arguments: [key])
            try db.execute(sql: "INSERT OR REPLACE INTO attachment (id, body) VALUES (?, ?)", arguments: [attachment.id, body])
            return true
        }
    }

    public func saveObservedTraffic(_ traffic: ObservedTraffic) async throws(TetherError) {
        let body = try Self.json(traffic)
        try await write("save the traffic of \(traffic.device)") { db in
            try db.execute(sql: "INSERT OR REPLACE INTO traffic (device, body) VALUES (?, ?)", arguments: [traffic.device.description, body])
        }
    }

    public func observedTraffic() async throws(TetherError) -> [ObservedTraffic] {
        let bodies = try await read("read observed traffic") { db in try String.fetchAll(db, sql: "SELECT body FROM traffic ORDER BY device") }
        return try bodies.map { (body: String) throws(TetherError) in try Self.decode(ObservedTraffic.self, body) }
    }

    // MARK: the journal

    public func begin(_ payload: OperationRecord.Payload, at time: Date) async throws(TetherError) -> OperationRecord {
        let draft = OperationRecord(id: "", payload: payload, created: time)
        let kind = draft.kind, vm = draft.vm, device = draft.subject
        let migrates = draft.migrationTarget != nil
        return try await write("journal a new \(kind.rawValue) of \(device)") { db in
            let busy = { (other: String) in
                TetherError(.busy, "\(other) is still running for \(device) or \(vm); wait for it (tether status) and try again")
            }
            // A migration takes its whole VM: nothing else may run on it meanwhile, nor it beside anything.
            let clash = migrates
                ? "SELECT id FROM operation WHERE state = 'running' AND vm = ?"
                : "SELECT id FROM operation WHERE state = 'running' AND vm = ? AND migrates = 1"
            if let other = try String.fetchOne(db, sql: clash, arguments: [vm]) { throw busy(other) }
            let next = (try Int.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'operation'") ?? 0) + 1
            let record = OperationRecord(id: "op-\(next)", payload: payload, created: time)
            do {
                try db.execute(sql: "INSERT INTO operation (id, kind, state, vm, device, body, migrates) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [record.id, kind.rawValue, record.state.rawValue, vm, device, try Self.jsonOrThrow(record), migrates])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw busy(try String.fetchOne(db, sql: "SELECT id FROM operation WHERE state = 'running' AND device = ?",
                                               arguments: [device]) ?? "another operation")
            }
            return record
        }
    }

    @discardableResult
    public func record(_ step: StepRecord, in id: String) async throws(TetherError) -> OperationRecord {
        try await write("journal step \(step.step) of \(id)") { db in
            var record = try Self.load(id, db)
            guard record.state == .running else {
                throw TetherError(.busy, "\(id) has finished (\(record.state.rawValue)); no step can be added")
            }
            try db.execute(sql: "INSERT INTO step (operation, seq, body) VALUES (?, ?, ?)",
                           arguments: [id, record.steps.count, try Self.jsonOrThrow(step)])
            record.steps.append(step)
            record.updated = step.at
            try Self.store(record, db)
            return record
        }
    }

    @discardableResult
    public func finish(_ id: String, as state: OperationRecord.State, error: String?, at time: Date) async throws(TetherError) -> OperationRecord {
        try await write("finish \(id)") { db in
            var record = try Self.load(id, db)
            guard record.state == .running else { return record }   // finishing twice changes nothing
            record.state = state
            record.error = error
            record.updated = time
            try Self.store(record, db)
            let current = try String.fetchAll(db, sql: "SELECT body FROM attachment").map { try Self.decodeOrThrow(DeviceAttachment.self, $0) }
            let changes = record.attachmentChanges(given: current)
            for id in changes.removed { try db.execute(sql: "DELETE FROM attachment WHERE id = ?", arguments: [id]) }
            for attachment in changes.saved {
                try db.execute(sql: "INSERT OR REPLACE INTO attachment (id, body) VALUES (?, ?)",
                               arguments: [attachment.id, try Self.jsonOrThrow(attachment)])
            }
            return record
        }
    }

    public func operation(_ id: String) async throws(TetherError) -> OperationRecord? {
        try await read("read \(id)") { db in
            guard try String.fetchOne(db, sql: "SELECT id FROM operation WHERE id = ?", arguments: [id]) != nil else { return nil }
            return try Self.load(id, db)
        }
    }

    public func unfinishedOperations() async throws(TetherError) -> [OperationRecord] {
        try await read("read unfinished operations") { db in
            try String.fetchAll(db, sql: "SELECT id FROM operation WHERE state = 'running' ORDER BY seq").map { try Self.load($0, db) }
        }
    }

    public func recentOperations(limit: Int) async throws(TetherError) -> [OperationRecord] {
        try await read("read operations") { db in
            try String.fetchAll(db, sql: "SELECT id FROM operation ORDER BY seq DESC LIMIT ?", arguments: [limit]).map { try Self.load($0, db) }
        }
    }

    // MARK: plumbing

    /// The operation row holds everything but the steps, which are rows of their own: a step is
    /// appended, never rewritten.
    private static func load(_ id: String, _ db: Database) throws -> OperationRecord {
        guard let body = try String.fetchOne(db, sql: "SELECT body FROM operation WHERE id = ?", arguments: [id]) else {
            throw TetherError(.notFound, "no operation '\(id)'")
        }
        var record = try decodeOrThrow(OperationRecord.self, body)
        record.steps = try String.fetchAll(db, sql: "SELECT body FROM step WHERE operation = ? ORDER BY seq", arguments: [id])
            .map { try decodeOrThrow(StepRecord.self, $0) }
        return record
    }

    private static func store(_ record: OperationRecord, _ db: Database) throws {
        var header = record
        header.steps = []
        try db.execute(sql: "UPDATE operation SET state = ?, body = ? WHERE id = ?",
                       arguments: [record.state.rawValue, try jsonOrThrow(header), record.id])
    }

    private func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(TetherError) -> T {
        do {
            return try await queue.write(body)
        } catch let error as TetherError {
            throw error
        } catch {
            throw TetherError(.io, "cannot \(what) in \(path)", cause: "\(error)")
        }
    }

    private func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(TetherError) -> T {
        do {
            return try await queue.read(body)
        } catch let error as TetherError {
            throw error
        } catch {
            throw TetherError(.io, "cannot \(what) in \(path)", cause: "\(error)")
        }
    }

    private static func jsonOrThrow(_ value: some Encodable) throws -> String {
        String(decoding: try APIJSON.encoder().encode(value), as: UTF8.self)
    }

    private static func json(_ value: some Encodable) throws(TetherError) -> String {
        do { return try jsonOrThrow(value) } catch { throw TetherError(.internalError, "cannot encode a record", cause: "\(error)") }
    }

    private static func decodeOrThrow<T: Decodable>(_ type: T.Type, _ body: String) throws -> T {
        try APIJSON.decoder().decode(type, from: Data(body.utf8))
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ body: String) throws(TetherError) -> T {
        do { return try decodeOrThrow(type, body) } catch {
            throw TetherError(.io, "the store holds a record that no longer decodes as \(type)", cause: APIJSON.describe(error))
        }
    }
}
