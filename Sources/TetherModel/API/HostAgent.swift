/// What the controller asks of a host's agent: the one agent contract. The agent itself
/// (`HostAgentService`) conforms, the API client (`AgentClient`) conforms, and the agent's
/// routes take any conformer, so a route, a remote call and a simulated host all mean the same.
/// Every action is idempotent: asked twice, it does the thing once and answers the same.
public protocol HostAgent: Sendable {
    var host: String { get }
    /// The host as the controller should see it now.
    func registration() async throws(TetherError) -> AgentRegistration
    /// The VM's state on this host; nil when the host does not run it.
    func vm(_ name: String) async throws(TetherError) -> AgentVMState?
    /// Starts the VM waiting for its state; answers where to send it.
    func prepareIncoming(_ request: IncomingRequest) async throws(TetherError) -> HostPort
    /// Starts a live migration of a local VM to `address`, where host `target` waits for it.
    func startMigration(vm: String, to address: HostPort, target: String) async throws(TetherError)
    /// Quits a copy whose state went to `host` (postmigrate): never one that runs.
    func release(vm: String, movedTo host: String?) async throws(TetherError)
    /// Quits a VM that waits for a migration (inmigrate): the undo of `prepareIncoming`.
    func abandonIncoming(vm: String) async throws(TetherError)
    /// A failover's move of a local VM: its disk off an unreachable datastore if asked, then its
    /// state to `request.to`, where `request.target` waits for it.
    func evacuate(_ request: EvacuateRequest) async throws(TetherError)
    /// Runs a VM that arrived paused or with failed requests held; answers its state after.
    func resume(vm: String) async throws(TetherError) -> VMRunState
    /// A crashed guest's crash files, copied off its disk once it stopped writing them (QEMU's
    /// memory dump where it wrote none), into the host's crash directory.
    func collectCrash(vm: String) async throws(TetherError) -> CrashCollection
    /// Starts a crashed guest again from its disk (a reset), on this host.
    func restart(vm: String) async throws(TetherError) -> VMRunState
    /// Starts a VM from its disk on this host, as `vm.launch` says: its own host is gone (or
    /// its guest crashed there and that host is down). Asked again, answers the copy it started.
    func startFromDisk(_ vm: RegisteredVM) async throws(TetherError) -> VMRunState
    func export(_ request: ExportRequest) async throws(TetherError) -> HostPort
    func stopExport(session: String) async throws(TetherError)
    func openChannel(_ request: ChannelRequest) async throws(TetherError)
    func closeChannel(session: String, vm: String?) async throws(TetherError)
}

extension HostAgent {
    /// Agents that take no part in failover (test fakes) say so.
    public func evacuate(_ request: EvacuateRequest) async throws(TetherError) {
        throw TetherError(.unsupported, "the agent of \(host) cannot move \(request.vm) for a failover")
    }

    public func resume(vm: String) async throws(TetherError) -> VMRunState {
        throw TetherError(.unsupported, "the agent of \(host) cannot resume \(vm) for a failover")
    }

    public func collectCrash(vm: String) async throws(TetherError) -> CrashCollection {
        throw TetherError(.unsupported, "the agent of \(host) cannot collect \(vm)'s crash files")
    }

    public func restart(vm: String) async throws(TetherError) -> VMRunState {
        throw TetherError(.unsupported, "the agent of \(host) cannot restart \(vm)")
    }

    public func startFromDisk(_ vm: RegisteredVM) async throws(TetherError) -> VMRunState {
        throw TetherError(.unsupported, "the agent of \(host) cannot start \(vm.name) from its disk")
    }
}
