import Foundation
import TetherModel

/// The image formats a VM's disk may have. QEMU must be told the format: guessing it is unsafe
/// (a raw guest could write a qcow2 header into its sector 0), and a wrong one is silent
/// corruption: a qcow2 image given as raw shows the guest qcow2's metadata as its disk, and
/// the guest's writes destroy the image.
public enum DiskFormat: String, Sendable, Codable, CaseIterable {
    case raw, qcow2

    /// The format an image's header says it has. A file with none of the known magic numbers is
    /// raw. A known format that Tether does not boot (qcow version 1, QED, VMDK, VDI, VHD, VHDX,
    /// LUKS) is refused rather than passed as raw: that would show the guest the header.
    public static func detect(path: String) throws(TetherError) -> DiskFormat {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw TetherError(exists ? .permissionDenied : .notFound,
                              exists ? "cannot read the disk image \(path)" : "no disk image at \(path)")
        }
        defer { try? handle.close() }
        let header: [UInt8]
        do {
            header = [UInt8](try handle.read(upToCount: 512) ?? Data())
        } catch {
            throw TetherError(.io, "cannot read the header of the disk image \(path)", cause: "\(error)")
        }
        return try detect(header: header, path: path)
    }

    static func detect(header: [UInt8], path: String) throws(TetherError) -> DiskFormat {
        func starts(with magic: [UInt8], at offset: Int = 0) -> Bool {
            header.count >= offset + magic.count && Array(header[offset..<offset + magic.count]) == magic
        }
        if starts(with: [0x51, 0x46, 0x49, 0xFB]) {   // "QFI\xfb", then a big-endian version
            let version = header.count >= 8 ? header[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : 0
            if version == 2 || version == 3 { return .qcow2 }
            throw unsupported(path, "a qcow image of version \(version)")
        }
        let others: [(magic: [UInt8], offset: Int, name: String)] = [
            (Array("QED\0".utf8), 0, "a QED image"),
            (Array("KDMV".utf8), 0, "a VMDK image"),
            (Array("# Disk DescriptorFile".utf8), 0, "a VMDK descriptor"),
            ([0x7F, 0x10, 0xDA, 0xBE], 0x40, "a VDI image"),
            (Array("conectix".utf8), 0, "a VHD image"),
            (Array("vhdxfile".utf8), 0, "a VHDX image"),
            ([0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE], 0, "a LUKS-encrypted image"),
        ]
        if let known = others.first(where: { starts(with: $0.magic, at: $0.offset) }) { throw unsupported(path, known.name) }
        return .raw
    }

    /// The format to give QEMU for the image at `path`: the one the spec names, checked against
    /// the header, or the header's.
    static func resolve(path: String, declared: DiskFormat?) throws(TetherError) -> DiskFormat {
        let found = try detect(path: path)
        if let declared, declared != found {
            throw TetherError(.invalidArgument, "the disk image \(path) is \(found.rawValue), "
                              + "but the VM's spec says \(declared.rawValue); "
                              + "correct the spec, or convert the image with `qemu-img convert -O \(declared.rawValue)`")
        }
        return found
    }

    private static func unsupported(_ path: String, _ what: String) -> TetherError {
        TetherError(.unsupported, "the disk image \(path) is \(what); Tether boots raw and qcow2 disks: "
                    + "convert it with `qemu-img convert -O qcow2 \(path) NEW.qcow2`")
    }
}
