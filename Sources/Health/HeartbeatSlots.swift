/// Where each writer's heartbeat lives in the `tether-heartbeats` export: 2048 sectors of 512
/// bytes (1 MiB), one writer (host, path) per sector.
///
/// A writer's home slot is FNV-1a (64-bit) of `host`, a zero byte and the path index as
/// decimal text, modulo the slot count. From home it probes linearly (wrapping) and takes the
/// first slot that is empty (no valid record) or already its own; a slot holding another writer's
/// record is skipped. Deterministic, so a restarted writer finds its own slot (and its sequence)
/// again; readers need not know the rule at all, they read every slot (one 1 MiB read) and go by
/// the names in the records.
///
/// Records are never erased: a host that leaves for good keeps its slot (2048 slots are many
/// times the hosts and paths of a cluster).
///
/// Two new writers can pick the same empty slot at once. Each writer reads its slot back now and
/// then (`DatastoreHeartbeats`); one that finds another's record there yields if the other
/// writer orders first (`HeartbeatWriter <`), and probes again past it; the first keeps the slot.
public enum HeartbeatSlots {
    public static let count = 2048
    public static let sectorSize = HeartbeatRecord.size
    /// The export's size the layout needs: 1 MiB.
    public static let regionSize = count * sectorSize

    public static func home(of writer: HeartbeatWriter) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in Array(writer.host.utf8) + [0] + Array(String(writer.path).utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(count))
    }

    /// The slot `writer` takes, given what the slots hold now (slot → its writer; empty slots
    /// absent) and slots to pass over (lost to a writer that orders first). Nil when full.
    public static func choose(for writer: HeartbeatWriter, occupied: [Int: HeartbeatWriter], avoiding: Set<Int> = []) -> Int? {
        let start = home(of: writer)
        // Its own record anywhere wins: a restarted writer continues where it was.
        let own = occupied.filter { $0.value == writer && !avoiding.contains($0.key) }.keys
        if let mine = own.min(by: { ($0 - start + count) % count < ($1 - start + count) % count }) { return mine }
        for step in 0..<count {
            let slot = (start + step) % count
            guard !avoiding.contains(slot) else { continue }
            if occupied[slot] == nil { return slot }
        }
        return nil
    }

    /// Every record in a read of the whole region, by slot (a slot with no valid record absent).
    public static func records(in region: [UInt8]) -> [Int: HeartbeatRecord] {
        var found: [Int: HeartbeatRecord] = [:]
        for slot in 0..<min(count, region.count / sectorSize) {
            let start = slot * sectorSize
            if let record = HeartbeatRecord.decode(region[start..<start + sectorSize]) { found[slot] = record }
        }
        return found
    }
}
