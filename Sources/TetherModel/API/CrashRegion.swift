/// The part of a VM's disk where its guest writes its crash files (a dump partition, a crash
/// record), in 512-byte sectors: what the crash flow copies off the disk before the VM restarts
/// (shared/spec/ha.md). `marker`: the bytes a sector of a crash file starts with; without it, any
/// data in the region counts.
public struct CrashRegion: Sendable, Equatable, Codable {
    public static let sectorBytes = 512

    public var firstSector: Int
    public var sectors: Int
    public var marker: String?

    public init(firstSector: Int, sectors: Int, marker: String? = nil) {
        self.firstSector = firstSector
        self.sectors = sectors
        self.marker = marker
    }

    public var offset: UInt64 { UInt64(firstSector) * UInt64(Self.sectorBytes) }
    public var length: Int { sectors * Self.sectorBytes }

    public func validate() throws(TetherError) {
        guard firstSector >= 0, (1...65536).contains(sectors) else {
            throw TetherError(.invalidArgument, "a crash region is 1 to 65536 sectors from sector 0 or later, not \(sectors) from \(firstSector)")
        }
        if let marker, marker.isEmpty || marker.utf8.count > 64 {
            throw TetherError(.invalidArgument, "a crash region's marker is 1 to 64 bytes")
        }
    }

    /// The sectors of `bytes` (this region's content) that hold crash data: those starting with
    /// the marker, or, without one, those not all zeros.
    public func crashSectors(in bytes: [UInt8]) -> [Int] {
        stride(from: 0, to: bytes.count, by: Self.sectorBytes).compactMap { start in
            let sector = bytes[start..<min(start + Self.sectorBytes, bytes.count)]
            if let marker { return sector.starts(with: Array(marker.utf8)) ? start / Self.sectorBytes : nil }
            return sector.contains { $0 != 0 } ? start / Self.sectorBytes : nil
        }
    }
}
