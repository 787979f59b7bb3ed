import Foundation
import TetherModel

/// The lab's guest: a boot sector, no OS, that writes a growing counter to its disk (the
/// sequence) and, on an NMI, signals a panic on pvpanic and writes a crash record, then halts.
/// What it does and the QEMU settings it needs are in this folder's README; its source is
/// LabGuest.asm. `LabGuestImage` reads what it left on a disk image.
public enum LabGuest {
    public static let sectorSize = 512
    /// The sequence's sectors: counter C is in sector `1 + C mod 2048`.
    public static let sequenceSectors = 1...2048
    /// The crash record's sectors (its crash region): 4096 + i holds index i; 4096 is written last.
    public static let crashSectors = 4096...4159
    /// The bytes a sequence sector starts with after the counter.
    public static let sequenceMarker = Array("TETHERSQ".utf8)
    /// The bytes a crash record sector starts with.
    public static let crashMarker = Array("TETHERCR".utf8)

    /// The bytes to put at the start of a disk image: one boot sector (with the 55 AA signature).
    public static var bootImage: [UInt8] { bootSector }

    /// QEMU's devices for the guest on a local raw image (after `-nodefaults`, on a `pc`
    /// machine): the disk as virtio-blk, booted first, and a pvpanic device whose panic is
    /// reported (GUEST_PANICKED, action `run`) without pausing the VM, so that the guest can write
    /// its crash record after signalling. On NBD storage, replace the two -blockdev nodes and keep
    /// the node name `fmt`.
    public static func qemuArguments(image path: String) -> [String] {
        ["-blockdev", "driver=file,filename=\(path.replacingOccurrences(of: ",", with: ",,")),node-name=file0",
         "-blockdev", "driver=raw,file=file0,node-name=fmt",
         "-device", "virtio-blk-pci,drive=fmt,id=vd0,werror=stop,rerror=stop,bootindex=0"] + panicArguments
    }

    /// pvpanic, and QEMU 7.2's `-action panic=none`: report the panic, keep running. (The
    /// default, and `panic=pause`, stop the VM: its crash record would never be written.)
    public static let panicArguments = ["-device", "pvpanic", "-action", "panic=none"]

    /// The smallest image that holds the crash record, in MiB.
    public static let minimumSizeMiB = 3

    /// Writes a raw disk image of `sizeMiB` MiB at `path` (sparse: only the boot sector is
    /// written), replacing any file there. The guest needs at least `minimumSizeMiB`.
    public static func makeImage(at path: String, sizeMiB: Int = 4) throws(TetherError) {
        guard sizeMiB >= minimumSizeMiB else {
            throw TetherError(.invalidArgument, "a lab guest image needs at least \(minimumSizeMiB) MiB "
                              + "(its crash record ends at sector \(crashSectors.upperBound)), not \(sizeMiB)")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TetherError(.io, "cannot write the lab guest image at \(path)", cause: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        let written = bootImage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bootImage.count, ftruncate(fd, off_t(sizeMiB) * 1024 * 1024) == 0 else {
            throw TetherError(.io, "cannot write the lab guest image at \(path)", cause: String(cString: strerror(errno)))
        }
    }
}
