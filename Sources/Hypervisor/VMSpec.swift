import Foundation
import TetherModel

/// What a VM is started with: small on purpose, since Tether's tests run real VMs without a
/// guest OS, but the same for a real one (add a disk).
public struct VMSpec: Sendable {
    public enum Accelerator: String, Sendable, CaseIterable {
        /// KVM when /dev/kvm can be opened, else TCG.
        case auto, kvm, tcg
    }

    public var name: String
    public var memoryMiB: Int = 128
    public var cpus: Int = 1
    public var accelerator: Accelerator = .auto
    /// QEMU's machine type. An alias (`pc`, `q35`) is resolved at launch to the versioned type
    /// this QEMU gives it (`pc-i440fx-7.2`): a migration's target must run the very type its
    /// source runs (`QEMUMachine.machineType()`), which a newer QEMU's `pc` is not.
    public var machineType = "pc"
    /// An xHCI controller, where usb-redir devices are hot-added.
    public var usbController = true
    /// A pvpanic device, through which a guest reports a crash (GUEST_PANICKED).
    public var panicDevice = false
    /// What QEMU does when the guest reports a panic: `pause` (the memory stays there to dump),
    /// or `none` (report GUEST_PANICKED and let the guest go on: one that writes its own crash
    /// record after signalling, as the lab guest does).
    public var panicAction = "pause"
    /// A disk image to boot from, raw or qcow2.
    public var disk: String?
    /// The disk image's format; nil takes it from the image's header. A format that the
    /// header contradicts is refused at launch.
    public var diskFormat: DiskFormat?
    /// A disk on shared storage: an NBD export reached through one of several paths. QEMU opens
    /// it on the first path (`QEMUMachine.launch` puts the first that answers first). Exclusive
    /// with `disk`.
    public var networkDisk: NetworkDisk?
    /// A network namespace (`ip netns` name) to run QEMU in: a lab host's. Its QMP socket stays in
    /// the file system, so the driver reaches it from outside.
    public var networkNamespace: String?
    /// Start waiting for an incoming migration (`-incoming defer`): the receiving end of a live
    /// migration or of a restore.
    public var incoming = false
    /// Files loaded into guest RAM at these physical addresses before it runs. (The loader
    /// keeps a ROM copy of each, which migrates too.)
    public var memoryImages: [(path: String, address: UInt64)] = []
    /// A file whose bytes are the guest's RAM at start (mapped privately, never written back).
    public var memoryFile: String?
    public var extraArguments: [String] = []
    /// A second QMP socket, for operators and tools: the driver holds the first, and QEMU's QMP
    /// serves one client per socket.
    public var operatorMonitor: String?

    public init(name: String, memoryMiB: Int = 128, cpus: Int = 1, accelerator: Accelerator = .auto, machineType: String = "pc",
                usbController: Bool = true, panicDevice: Bool = false, disk: String? = nil, diskFormat: DiskFormat? = nil,
                incoming: Bool = false, memoryImages: [(path: String, address: UInt64)] = [], memoryFile: String? = nil,
                extraArguments: [String] = []) {
        self.name = name
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.accelerator = accelerator
        self.machineType = machineType
        self.usbController = usbController
        self.panicDevice = panicDevice
        self.disk = disk
        self.diskFormat = diskFormat
        self.incoming = incoming
        self.memoryImages = memoryImages
        self.memoryFile = memoryFile
        self.extraArguments = extraArguments
    }

    /// The accelerator this host gives: KVM needs /dev/kvm open for reading and writing.
    /// `TETHER_QEMU_ACCEL=tcg` (or `kvm`) overrides, e.g. to check a setup without KVM.
    public static var hostAccelerator: Accelerator {
        if let forced = ProcessInfo.processInfo.environment["TETHER_QEMU_ACCEL"].flatMap(Accelerator.init(rawValue:)), forced != .auto {
            return forced
        }
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return .tcg }
        close(fd)
        return .kvm
    }

    /// The spec as QEMU is started with it: the machine type an alias stands for in `types`,
    /// and the disk's format, from its header (and checked against the spec's).
    public func resolved(with types: MachineTypes) throws(TetherError) -> VMSpec {
        var spec = self
        spec.machineType = try types.resolve(machineType)
        if let disk { spec.diskFormat = try DiskFormat.resolve(path: disk, declared: diskFormat) }
        return spec
    }

    /// QEMU's command line (after the program name), best for a spec `resolved(with:)` has
    /// completed: an alias machine type is passed as it is. Both ends of a migration must be
    /// started with the same devices, so everything here is deterministic from the spec.
    public func arguments(qmpSocket: String) throws(TetherError) -> [String] {
        let accel = accelerator == .auto ? Self.hostAccelerator : accelerator
        // RAM is always a named backend, so that both ends of a migration agree on it whether or
        // not one of them maps a file.
        let backend = memoryFile.map { "memory-backend-file,id=ram,size=\(memoryMiB)M,mem-path=\(Self.optionValue($0)),share=off" }
            ?? "memory-backend-ram,id=ram,size=\(memoryMiB)M"
        var args = ["-name", name, "-nodefaults", "-no-user-config", "-display", "none",
                    "-object", backend, "-machine", "\(machineType),memory-backend=ram",
                    // A named CPU model, not `host`: it migrates between unlike hosts, and nested KVM
                    // cannot pass every host MSR through (QEMU asserts on MSR 0x10a).
                    "-accel", accel.rawValue, "-cpu", "qemu64",
                    "-m", "\(memoryMiB)", "-smp", "\(cpus)",
                    "-qmp", "unix:\(qmpSocket),server=on,wait=off", "-serial", "none", "-monitor", "none"]
        if let operatorMonitor { args += ["-qmp", "unix:\(operatorMonitor),server=on,wait=off"] }
        if usbController { args += ["-device", "qemu-xhci,id=xhci"] }
        // Pause on a panic (QEMU's default is to power off): the memory must still be there to dump.
        if panicDevice { args += ["-device", "pvpanic", "-action", "panic=\(panicAction)"] }
        if disk != nil, networkDisk != nil {
            throw TetherError(.invalidArgument, "\(name) has both a local disk and a network disk; give it one")
        }
        if let networkDisk, let path = networkDisk.paths.first { args += try networkDisk.arguments(over: path) }
        if let disk {
            // Never a default: a qcow2 image passed as raw shows the guest qcow2's metadata.
            let format: DiskFormat
            if let diskFormat { format = diskFormat } else { format = try DiskFormat.detect(path: disk) }
            args += ["-drive", "file=\(Self.optionValue(disk)),format=\(format.rawValue),if=ide,index=0,media=disk"]
        }
        for image in memoryImages {
            args += ["-device", "loader,file=\(Self.optionValue(image.path)),addr=0x\(String(image.address, radix: 16)),force-raw=on"]
        }
        if incoming { args += ["-incoming", "defer"] }
        return args + extraArguments
    }

    /// A value inside one of QEMU's `key=value,key=value` options: a comma in it is doubled, or a
    /// path with a comma would end the value there and start an option of the path's choosing.
    static func optionValue(_ text: String) -> String { text.replacingOccurrences(of: ",", with: ",,") }
}
