import Foundation
import TetherModel

/// One writer's heartbeats on one datastore: the slot it holds in the `tether-heartbeats` export
/// and its sequence, kept across connections (a path that comes back continues the sequence). Each
/// `beat` is one 512-byte write with FUA through the given connection; the write succeeding is
/// what makes the path `up`. See `HeartbeatSlots` for the layout and `HeartbeatRecord` for a
/// record; `read(through:)` is the readers' side.
public struct DatastoreHeartbeats: Sendable {
    /// The export every datastore has for heartbeats (1 MiB).
    public static let export = "tether-heartbeats"

    public let writer: HeartbeatWriter
    /// How often (in writes) the writer reads its slot before writing, to catch a writer that
    /// took the same slot at the same time.
    public var checkEvery: Int
    public private(set) var slot: Int?
    public private(set) var sequence: UInt64 = 0
    private var lost: Set<Int> = []
    private var writesSinceCheck = 0

    public init(writer: HeartbeatWriter, checkEvery: Int = 8) {
        self.writer = writer
        self.checkEvery = max(1, checkEvery)
    }

    /// Writes the next heartbeat (claiming a slot first if none is held) and returns it.
    @discardableResult
    public mutating func beat(through client: NBDClient, at time: Date = Date(),
                              deadline: ContinuousClock.Instant? = nil) throws(TetherError) -> HeartbeatRecord {
        if slot == nil { try claim(through: client, deadline: deadline) }
        // Read back before writing: another writer's record there was written since our last
        // write (after it, we would only ever see our own).
        if let held = slot, writesSinceCheck >= checkEvery {
            writesSinceCheck = 0
            try checkSlot(held, through: client, deadline: deadline)
            if slot == nil { try claim(through: client, deadline: deadline) }
        }
        guard let slot else { throw TetherError(.busy, "every heartbeat slot on \(client.endpoint) is taken") }
        let record = HeartbeatRecord(writer: writer, sequence: sequence + 1, time: time)
        try client.write(try record.encoded(), at: UInt64(slot * HeartbeatSlots.sectorSize), fua: true, deadline: deadline)
        sequence = record.sequence
        writesSinceCheck += 1
        return record
    }

    /// Every writer's latest record on the datastore: one read of the whole region.
    public static func read(through client: NBDClient) throws(TetherError) -> [HeartbeatWriter: HeartbeatRecord] {
        try requireRegion(client)
        let region = try client.read(at: 0, length: UInt32(HeartbeatSlots.regionSize))
        var latest: [HeartbeatWriter: HeartbeatRecord] = [:]
        // A writer that moved (a slot conflict) leaves its old record behind: the highest
        // sequence is its latest.
        for record in HeartbeatSlots.records(in: region).values where record.sequence > latest[record.writer]?.sequence ?? 0 {
            latest[record.writer] = record
        }
        return latest
    }

    mutating func claim(through client: NBDClient, deadline: ContinuousClock.Instant?) throws(TetherError) {
        try Self.requireRegion(client)
        let region = try client.read(at: 0, length: UInt32(HeartbeatSlots.regionSize), deadline: deadline)
        let records = HeartbeatSlots.records(in: region)
        slot = HeartbeatSlots.choose(for: writer, occupied: records.mapValues(\.writer), avoiding: lost)
        // A restarted writer continues its sequence, so readers never see it go back.
        let previous = records.values.filter { $0.writer == writer }.map(\.sequence).max() ?? 0
        sequence = max(sequence, previous)
        // Check the new slot soon: a writer claiming at the same moment is found within two beats.
        writesSinceCheck = max(0, checkEvery - 2)
    }

    private mutating func checkSlot(_ held: Int, through client: NBDClient, deadline: ContinuousClock.Instant?) throws(TetherError) {
        let sector = try client.read(at: UInt64(held * HeartbeatSlots.sectorSize), length: UInt32(HeartbeatSlots.sectorSize),
                                     deadline: deadline)
        guard let record = HeartbeatRecord.decode(sector[...]), record.writer != writer else { return }
        // Two writers on one slot: the one that orders first keeps it; the other moves on.
        if record.writer < writer {
            lost.insert(held)
            slot = nil
        }
    }

    private static func requireRegion(_ client: NBDClient) throws(TetherError) {
        guard client.exportSize >= UInt64(HeartbeatSlots.regionSize) else {
            throw TetherError(.invalidArgument,
                              "export \(client.endpoint) is \(client.exportSize) bytes; heartbeats need \(HeartbeatSlots.regionSize)")
        }
    }
}
