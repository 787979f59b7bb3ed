import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// A VM's disk image format, against real QEMU: what the guest sees is the disk's content.
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct DiskFormatTests {
    /// The guest boots from a qcow2 disk: the boot sector it runs (and that SeaBIOS loaded at
    /// 0x7C00) is the disk's content, not qcow2's header, which QEMU showed when told `raw`.
    @Test(.requires(QEMUTestbed.hasImageTool, "qemu-img is not installed (apt-get install qemu-utils)"))
    func aQcow2DiskShowsTheGuestItsContentsNotItsMetadata() async throws {
        try await QEMUTestbed.with { bed in
            let bootSector = try bed.panickingBootSector("boot.raw")
            let disk = try bed.qcow2Image("boot.qcow2", from: bootSector)
            #expect(try DiskFormat.detect(path: disk) == .qcow2)
            let vm = try await bed.launch(VMSpec(name: "qdisk", memoryMiB: 64, panicDevice: true, disk: disk, extraArguments: ["-S"]))
            let drivers = try await vm.qmp.execute("query-block").array?.compactMap { $0["inserted"]?["drv"]?.string }
            #expect(drivers == ["qcow2"])
            let events = vm.qmp.events()
            try await vm.resume()
            _ = try await events.first(named: "GUEST_PANICKED", within: .seconds(60))
            try await vm.saveGuestMemory(address: 0x7C00, size: 512, to: bed.path("loaded.bin"))
            let loaded = try Data(contentsOf: URL(fileURLWithPath: bed.path("loaded.bin")))
            #expect(loaded == (try Data(contentsOf: URL(fileURLWithPath: bootSector))), "the guest read the disk's content")
        }
    }

    @Test func aRawDiskIsStillRaw() async throws {
        try await QEMUTestbed.with { bed in
            let disk = try bed.panickingBootSector("boot.raw")
            let vm = try await bed.launch(VMSpec(name: "rdisk", memoryMiB: 64, disk: disk, extraArguments: ["-S"]))
            let drivers = try await vm.qmp.execute("query-block").array?.compactMap { $0["inserted"]?["drv"]?.string }
            #expect(drivers == ["raw"])
        }
    }

    /// A format Tether does not boot, and a format the spec gets wrong, are refused before QEMU
    /// starts: either would show the guest an image's metadata as its disk.
    @Test(.requires(QEMUTestbed.hasImageTool, "qemu-img is not installed (apt-get install qemu-utils)"))
    func unknownOrContradictedDiskFormatsAreRefused() async throws {
        try await QEMUTestbed.with { bed in
            let vmdk = bed.path("disk.vmdk")
            try Data("KDMV".utf8 + [UInt8](repeating: 0, count: 508)).write(to: URL(fileURLWithPath: vmdk))
            let unknown = await bed.launchRefusal(VMSpec(name: "vmdk", memoryMiB: 64, disk: vmdk))
            #expect(unknown?.code == .unsupported)
            #expect(unknown?.message.contains("VMDK") == true)

            let qcow2 = try bed.qcow2Image("disk.qcow2", from: try bed.panickingBootSector("boot.raw"))
            let contradicted = await bed.launchRefusal(VMSpec(name: "liar", memoryMiB: 64, disk: qcow2, diskFormat: .raw))
            #expect(contradicted?.code == .invalidArgument)
            #expect(contradicted?.message.contains("is qcow2") == true)

            let missing = await bed.launchRefusal(VMSpec(name: "gone", memoryMiB: 64, disk: bed.path("no-such.img")))
            #expect(missing?.code == .notFound)
        }
    }
}

/// Header magic to format, without QEMU: each known header is recognised, and nothing else is
/// taken for anything but raw.
struct DiskHeaderTests {
    /// nil: refused as `.unsupported`.
    static let cases: [(header: [UInt8], expected: DiskFormat?)] = [
        ([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3], .qcow2),
        ([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 2], .qcow2),
        ([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 1], nil),   // qcow v1
        (Array("QED\0".utf8), nil),
        (Array("KDMV".utf8), nil),
        (Array("# Disk DescriptorFile\n".utf8), nil),
        ([UInt8](repeating: 0, count: 0x40) + [0x7F, 0x10, 0xDA, 0xBE], nil),   // VDI
        (Array("conectix".utf8), nil),
        (Array("vhdxfile".utf8), nil),
        ([0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE, 0, 1], nil),
        ([0xEB, 0x63, 0x90] + [UInt8](repeating: 0, count: 507) + [0x55, 0xAA], .raw),   // an MBR
        ([0x51, 0x46, 0x49], .raw),   // too short to be qcow2
        ([], .raw),
    ]

    @Test(arguments: cases.indices)
    func headerMagicDecidesTheFormat(_ index: Int) throws {
        let (header, expected) = Self.cases[index]
        let path = NSTemporaryDirectory() + "tether-header-\(UUID().uuidString)"
        try Data(header).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        if let expected {
            #expect(try DiskFormat.detect(path: path) == expected)
        } else {
            #expect { try DiskFormat.detect(path: path) } throws: { ($0 as? TetherError)?.code == .unsupported }
        }
    }
}
