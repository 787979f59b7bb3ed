/// The largest figures the API takes. Far above any real host, VM or device, and low enough that
/// every sum and product the controller makes of them (a host's VMs' memory, a device's need in
/// bits per second, a VM's allocation in bits) stays far from Int's end: a figure past them would
/// otherwise trap and take the daemon down with every request that touches it.
public enum APILimits {
    public static let cpus = 65_536
    /// 4 PiB.
    public static let memoryMiB = 1 << 32
    /// 10 Tbit/s.
    public static let mbps = 10_000_000
    /// 1 TB/s.
    public static let bytesPerSecond = 1 << 40
    /// Paths QEMU opens, as Linux bounds them.
    public static let pathBytes = 4096
    /// A registration's revision: JSON numbers every client reads exactly (2^53 - 1).
    public static let revisions = 1...((1 << 53) - 1)
}

extension VMLaunch {
    /// What the agent checks before it starts QEMU with these figures: names that become file
    /// names, figures QEMU takes, words that become QEMU options.
    public func validate() throws(TetherError) {
        var problems: [String] = []
        if !APINames.isValid(name) { problems.append("name '\(name)' \(APINames.rule)") }
        // NAME.monitor.qmp is VM NAME's operator monitor, beside each VM's NAME.qmp.
        if name.hasSuffix(".monitor") { problems.append("name '\(name)' may not end in '.monitor' (that is another VM's monitor socket)") }
        // QEMU's pc machines take at most 255 vCPUs.
        if !(1...255).contains(cpus) { problems.append("cpus must be 1 to 255, not \(cpus)") }
        if !(1...(4 << 20)).contains(memoryMiB) { problems.append("memoryMiB must be 1 to \(4 << 20), not \(memoryMiB)") }
        for (what, word) in [("machineType", machineType)] {
            if let word, !Self.isOptionWord(word) { problems.append("\(what) '\(word)' must be 1 to 63 letters, digits, '-', '.' or '_'") }
        }
        if let panicAction, !Self.panicActions.contains(panicAction) {
            problems.append("panicAction '\(panicAction.prefix(63))' is none of \(Self.panicActions.sorted().joined(separator: ", "))")
        }
        if let diskFormat, !["raw", "qcow2"].contains(diskFormat) { problems.append("diskFormat '\(diskFormat.prefix(63))' is neither raw nor qcow2") }
        for path in [disk].compactMap({ $0 }) + memoryImages.map(\.path) where !Self.isFilePath(path) {
            problems.append("'\(path.prefix(80))' is not an absolute file path of at most \(APILimits.pathBytes) bytes")
        }
        if let shared = datastoreDisk, !APINames.isValid(shared.datastore) || !APINames.isValid(shared.export) {
            problems.append("datastoreDisk: datastore and export \(APINames.rule)")
        }
        if let region = crashRegion {
            do { try region.validate() } catch { problems.append(error.message) }
            if region.firstSector > 1 << 40 { problems.append("a crash region starts at sector \(1 << 40) at the latest") }
        }
        if !problems.isEmpty {
            throw TetherError(.invalidArgument, "launch of '\(name.prefix(63))' is invalid: " + problems.joined(separator: "; "))
        }
    }

    static func isOptionWord(_ word: String) -> Bool { APINames.isValid(word) }

    /// QEMU's `-action panic=`.
    static let panicActions: Set<String> = ["pause", "shutdown", "exit-failure", "none"]

    static func isFilePath(_ path: String) -> Bool {
        path.hasPrefix("/") && path.utf8.count <= APILimits.pathBytes && !path.utf8.contains(0)
    }
}

extension Heartbeat {
    /// Rates past the API's bounds would overflow the controller's figures; a device name that
    /// is not one would make a record nobody can read back.
    public func validate() throws(TetherError) {
        for rate in traffic ?? [] {
            guard APINames.isValid(rate.device), (0...APILimits.bytesPerSecond).contains(rate.bytesPerSecond) else {
                throw TetherError(.invalidArgument, "heartbeat: device '\(rate.device.prefix(63))' with \(rate.bytesPerSecond) bytes per second: "
                                  + "a device \(APINames.rule), a rate is 0 to \(APILimits.bytesPerSecond)")
            }
        }
        for (role, link) in networks ?? [:] where !(0...APILimits.mbps).contains(link.mbps) {
            throw TetherError(.invalidArgument, "heartbeat: network \(role.rawValue): mbps must be 0 to \(APILimits.mbps)")
        }
        if let registered, !APILimits.revisions.contains(registered) {
            throw TetherError(.invalidArgument, "heartbeat: registered must be a revision, 1 to \(APILimits.revisions.upperBound), not \(registered)")
        }
    }
}
