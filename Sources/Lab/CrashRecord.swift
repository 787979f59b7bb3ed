/// The crash record the lab guest writes after an NMI: 64 sectors (4096 ... 4159), each with the
/// counter at the crash and its own index, sector 4096 last. Each sector: "TETHERCR", the last
/// counter whose write completed (8 bytes little endian), the index 0 ... 63 (4 bytes little
/// endian), zeros.
public struct CrashRecord: Sendable, Equatable {
    /// The counter the sectors carry; nil when none is written. (The sectors disagreeing is a fault.)
    public var counter: UInt64?
    /// The indices (0 ... 63) of the sectors found written, sorted.
    public var presentIndices: [Int]
    public var faults: [Fault]

    public enum Fault: Sendable, Equatable {
        /// A sector carries a different counter from the others.
        case counterDiffers(index: Int, counter: UInt64)
        /// A sector says it is another index: written to the wrong place.
        case wrongIndex(index: Int, says: UInt32)
    }

    public init(counter: UInt64?, presentIndices: [Int], faults: [Fault]) {
        self.counter = counter
        self.presentIndices = presentIndices
        self.faults = faults
    }

    /// Sector 4096 (index 0) is written: the guest wrote it last, so the record is finished.
    public var isFinished: Bool { presentIndices.first == 0 }
    /// No sector written: the guest has not crashed (or not yet begun its record).
    public var isEmpty: Bool { presentIndices.isEmpty }
    /// All 64 sectors there and in agreement.
    public var isComplete: Bool { presentIndices.count == LabGuest.crashSectors.count && faults.isEmpty }
}
