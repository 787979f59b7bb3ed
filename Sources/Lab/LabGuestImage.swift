import Foundation
import TetherModel

/// Reads what the lab guest left on a raw disk image, from outside (the VM paused or gone):
/// the counter sequence and the crash record. A file too short to hold them, or sectors that
/// are neither zeros nor the guest's records, are refused with `.invalidArgument`.
public enum LabGuestImage {
    /// The sector counter `counter` is written to.
    public static func sector(of counter: UInt64) -> Int {
        LabGuest.sequenceSectors.lowerBound + Int(counter % UInt64(LabGuest.sequenceSectors.count))
    }

    /// The counters in sectors 1 ... 2048 of the image at `path`, and the verdict on them.
    public static func sequence(of path: String) throws(TetherError) -> CounterSequence {
        let bytes = try read(path, through: LabGuest.sequenceSectors.upperBound)
        var counters: [Int: UInt64] = [:]
        var foreign: [Int] = []
        for sector in LabGuest.sequenceSectors {
            let start = sector * LabGuest.sectorSize
            let content = bytes[start..<start + LabGuest.sectorSize]
            if content.allSatisfy({ $0 == 0 }) { continue }
            guard content.dropFirst(8).prefix(8).elementsEqual(LabGuest.sequenceMarker),
                  content.dropFirst(16).allSatisfy({ $0 == 0 }) else {
                foreign.append(sector)
                continue
            }
            counters[sector] = littleEndian(content.prefix(8))
        }
        try refuse(foreign, path, "a sequence record (counter, TETHERSQ, zeros)")
        return CounterSequence(counters: counters)
    }

    /// The highest counter written after `last`, following the sequence from `last + 1` as far
    /// as it goes (up to `window` counters on); `last` when the next one is not there yet. For
    /// watching a running guest: a few sectors read, not the whole sequence.
    public static func latestCounter(in path: String, after last: UInt64, window: Int = 64) throws(TetherError) -> UInt64 {
        var latest = last
        while latest - last < UInt64(window) {
            // The sectors from the next counter's on, to the sequence's end at most (it wraps).
            let first = sector(of: latest + 1)
            let through = min(LabGuest.sequenceSectors.upperBound, first + window - Int(latest - last) - 1)
            let bytes = try read(path, through: through, from: first)
            for index in 0...(through - first) {
                let content = bytes[index * LabGuest.sectorSize..<(index + 1) * LabGuest.sectorSize]
                guard content.dropFirst(8).prefix(8).elementsEqual(LabGuest.sequenceMarker),
                      littleEndian(content.prefix(8)) == latest + 1 else { return latest }
                latest += 1
            }
        }
        return latest
    }

    /// The crash record in sectors 4096 ... 4159 of the image at `path`.
    public static func crashRecord(of path: String) throws(TetherError) -> CrashRecord {
        let bytes = try read(path, through: LabGuest.crashSectors.upperBound)
        return try crashRecord(inRegion: Array(bytes[(LabGuest.crashSectors.lowerBound * LabGuest.sectorSize)...]), from: path)
    }

    /// The crash record in a copy of the crash region alone (sectors 4096 ... 4159), as the
    /// crash flow keeps it.
    public static func crashRecord(inRegion bytes: [UInt8], from path: String) throws(TetherError) -> CrashRecord {
        guard bytes.count >= LabGuest.crashSectors.count * LabGuest.sectorSize else {
            throw TetherError(.invalidArgument, "\(path) holds \(bytes.count) bytes, not the \(LabGuest.crashSectors.count) sectors of a crash region")
        }
        var present: [Int] = []
        var counters: [(index: Int, counter: UInt64)] = []
        var faults: [CrashRecord.Fault] = []
        var foreign: [Int] = []
        for sector in LabGuest.crashSectors {
            let index = sector - LabGuest.crashSectors.lowerBound
            let start = index * LabGuest.sectorSize
            let content = bytes[start..<start + LabGuest.sectorSize]
            if content.allSatisfy({ $0 == 0 }) { continue }
            guard content.prefix(8).elementsEqual(LabGuest.crashMarker), content.dropFirst(20).allSatisfy({ $0 == 0 }) else {
                foreign.append(sector)
                continue
            }
            present.append(index)
            counters.append((index, littleEndian(content.dropFirst(8).prefix(8))))
            let says = UInt32(truncatingIfNeeded: littleEndian(content.dropFirst(16).prefix(4)))
            if says != index { faults.append(.wrongIndex(index: index, says: says)) }
        }
        try refuse(foreign, path, "a crash record sector (TETHERCR, counter, index, zeros)")
        // The counter most sectors carry; the others are faults.
        var votes: [UInt64: Int] = [:]
        for entry in counters { votes[entry.counter, default: 0] += 1 }
        let counter = votes.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
        for entry in counters where entry.counter != counter {
            faults.append(.counterDiffers(index: entry.index, counter: entry.counter))
        }
        return CrashRecord(counter: counter, presentIndices: present, faults: faults)
    }

    /// Sectors 0 ... `last` of the file.
    static func read(_ path: String, through last: Int, from first: Int = 0) throws(TetherError) -> [UInt8] {
        let offset = first * LabGuest.sectorSize
        let needed = (last + 1) * LabGuest.sectorSize - offset
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw TetherError(errno == ENOENT ? .notFound : .io, "cannot read the lab guest image at \(path)", cause: reason)
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: needed)
        var filled = 0
        while filled < needed {
            let count = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return pread(fd, base + filled, needed - filled, off_t(offset + filled))
            }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw TetherError(.io, "cannot read the lab guest image at \(path)", cause: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            filled += count
        }
        guard filled == needed else {
            throw TetherError(.invalidArgument, "\(path) ends before sector \(last), too short for a lab guest image: "
                              + "it needs sectors \(first) to \(last); make one with LabGuest.makeImage")
        }
        return bytes
    }

    private static func refuse(_ foreign: [Int], _ path: String, _ expected: String) throws(TetherError) {
        guard let first = foreign.first else { return }
        throw TetherError(.invalidArgument, "\(path) is not a lab guest image: \(foreign.count) sectors hold neither zeros "
                          + "nor \(expected), the first is sector \(first)")
    }

    private static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
