import TetherModel

/// Starts and finds the VMs of one hypervisor. The agent holds one driver and drives every VM
/// it gives out through `VirtualMachineControl`, so a libvirt driver can stand in for QEMU's.
public protocol VirtualMachineDriver: Sendable {
    /// Starts a VM from `spec`, keeping its control sockets and logs in `directory`.
    func launch(_ spec: VMSpec, in directory: String) async throws -> any VirtualMachineControl
    /// Takes over a VM that already runs (its manager restarted; the VM did not).
    func adopt(controlSocket: String, name: String, timeout: Duration) async throws -> any VirtualMachineControl
}

/// What Tether asks of a hypervisor for one VM. QEMU over QMP implements it (`QEMUMachine`); a
/// libvirt driver could too.
public protocol VirtualMachineControl: Sendable {
    var name: String { get }
    func status() async throws -> VMRunState
    /// The state, if QEMU answers within `timeout`: a QEMU draining a request on a dead storage
    /// path holds QMP for seconds, and a heartbeat must not wait for it.
    func status(within timeout: Duration) async throws -> VMRunState
    func pause() async throws
    func resume() async throws
    /// The versioned machine type the VM runs: its migration's target must be started with it.
    func machineType() async throws -> String
    /// Readies this (incoming) VM to receive a migration at `uri`; with `tls`, only over TLS,
    /// and with `sourceName` too, only from the host of that name.
    func prepareIncoming(uri: String, tls: MigrationTLS?, sourceName: String?) async throws
    func migrate(to target: any VirtualMachineControl, uri: String, options: MigrationOptions,
                 progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult
    /// The source's half of a live migration to a target another host readied at `uri`.
    func migrateOut(uri: String, options: MigrationOptions,
                    progress: @escaping @Sendable (MigrationProgress) -> Void) async throws -> MigrationResult
    func cancelMigration() async throws
    func saveState(to path: String) async throws -> MigrationResult
    func restoreState(from path: String) async throws
    func attachUSBRedirection(id: String, host: String, port: Int) async throws
    /// A usb-redir device fed through a unix socket (a relay end only this host's user reaches).
    func attachUSBRedirection(id: String, socketPath: String) async throws
    func detachUSBRedirection(id: String) async throws
    /// The ids of the usb-redir devices the VM has.
    func usbRedirectionIDs() async throws -> [String]
    func usbDevices() async throws -> [USBDeviceInfo]
    func dumpGuestMemory(to path: String) async throws
    /// The IO path the VM's network disk uses now; nil when it has none.
    func diskPath() async throws -> NBDPath?
    /// Moves the network disk onto another path of its datastore, while the VM runs or after its
    /// path failed (paused in `io-error`; resumed after, the failed request issued again).
    @discardableResult
    func switchDiskPath(to path: NBDPath) async throws -> DiskPathSwitch
    /// Takes the network disk off its datastore (out of reach) onto a local sink that fails every
    /// request, pausing the VM: it can then be migrated, its failed requests travelling with it.
    /// False when it was off already.
    @discardableResult
    func leaveStorage(stepTimeout: Duration) async throws -> Bool
    /// Runs a VM that arrived paused or in `io-error`, issuing its held requests here.
    @discardableResult
    func resumeAfterMove(timeout: Duration) async throws -> VMRunState
    /// The network disk's connections whose data has gone unacknowledged through `backoff`
    /// retransmission timeouts, and the path they are on; nil when that cannot be seen.
    func stuckDiskConnections(backoff: Int) async throws -> (path: NBDPath, connections: [StuckConnection])?
    /// Closes them, so that QEMU's request fails now rather than when TCP gives up.
    func closeConnections(_ connections: [StuckConnection]) throws
    /// The IO errors QEMU reports on the VM's disks from now on.
    func diskIOErrors() -> AsyncStream<DiskIOError>
    /// The guest's panics and watchdog firings from now on.
    func guestTroubles() -> AsyncStream<GuestTrouble>
    /// Write requests completed on the VM's disks so far.
    func writeOperations() async throws -> Int64
    func reset() async throws
    func quit() async throws
    /// Stops the VM at once, without asking the guest (a target that never got its state).
    func kill() async
}

extension VirtualMachineControl {
    /// Readies this (incoming) VM to receive a migration at `uri`, in plaintext.
    public func prepareIncoming(uri: String) async throws {
        try await prepareIncoming(uri: uri, tls: nil, sourceName: nil)
    }

    /// The VM's state once it is no longer `from`, or the last one seen when `within` has
    /// passed; nil once a question goes unanswered for `askingWithin`. Asked every 20 ms.
    public func settledState(leaving from: VMRunState, within: Duration, askingWithin: Duration) async -> VMRunState? {
        let deadline = ContinuousClock.now + within
        var state = try? await status(within: askingWithin)
        while state == from, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            state = try? await status(within: askingWithin)
        }
        return state
    }
}

public struct MigrationOptions: Sendable {
    /// The longest pause the VM may see at the switch-over.
    public var downtimeLimitMs: Int?
    /// Cap on the migration stream, bytes per second.
    public var maxBandwidthBytesPerSecond: Int?
    /// Give up (and cancel) after this long.
    public var timeout: Duration = .seconds(600)
    /// The source's credentials, to migrate over TLS; nil migrates in plaintext.
    public var tls: MigrationTLS?
    /// With `tls`: the name the target's certificate must carry (QEMU's `tls-hostname`), the
    /// target host's name as `tether certs issue --name` gave it.
    public var targetName: String?

    public init(downtimeLimitMs: Int? = nil, maxBandwidthBytesPerSecond: Int? = nil, timeout: Duration = .seconds(600),
                tls: MigrationTLS? = nil, targetName: String? = nil) {
        self.downtimeLimitMs = downtimeLimitMs
        self.maxBandwidthBytesPerSecond = maxBandwidthBytesPerSecond
        self.timeout = timeout
        self.tls = tls
        self.targetName = targetName
    }
}

/// One look at a migration under way (query-migrate).
public struct MigrationProgress: Sendable, Equatable {
    public var status: MigrationStatus
    public var transferredBytes: Int64
    public var remainingBytes: Int64
    public var totalBytes: Int64
    public var megabitsPerSecond: Double

    public var fraction: Double {
        totalBytes > 0 ? min(1, Double(totalBytes - remainingBytes) / Double(totalBytes)) : 0
    }
}

/// How a migration (or a state save) ended, with QEMU's own figures and the driver's.
public struct MigrationResult: Sendable, Equatable, Codable {
    public var status: MigrationStatus
    /// QEMU's `total-time`.
    public var totalTimeMs: Int64
    /// QEMU's `downtime`: how long the VM was paused at the switch-over.
    public var downtimeMs: Int64
    public var transferredBytes: Int64
    /// From the driver's first command to its seeing the end: QEMU's figure plus what the
    /// driver adds.
    public var driverTotalMs: Double
}

/// A device in the VM's USB tree (`info usb`).
public struct USBDeviceInfo: Sendable, Equatable, Codable {
    /// `BUS.ADDRESS`.
    public var device: String
    public var port: String
    public var speed: String
    public var product: String
    public var id: String?

    /// True once the guest-side bus has given the device an address. A usb-redir device whose
    /// chardev has connected but whose peer has not yet announced a device is listed too, at
    /// address 0 and 1.5 Mb/s: a placeholder, not a device.
    public var isAddressed: Bool { device.split(separator: ".").last.map { $0 != "0" } ?? false }

    /// True once a usb-redir peer has announced its device: it has an address, or a speed other
    /// than the placeholder's. The address is the guest's to give (SeaBIOS does it while it
    /// enumerates USB at boot, a guest OS on hot-plug); a device hot-added to a VM whose firmware
    /// has finished, and that has no OS, stays at address 0 with its real speed.
    public var isAnnounced: Bool { isAddressed || speed != "1.5 Mb/s" }
}
