/// QEMU as the agent's hypervisor: each VM a `qemu-system-x86_64` process driven over QMP.
public struct QEMUDriver: VirtualMachineDriver {
    public let qemu: String

    public init(qemu: String = "qemu-system-x86_64") { self.qemu = qemu }

    public func launch(_ spec: VMSpec, in directory: String) async throws -> any VirtualMachineControl {
        try await QEMUMachine.launch(spec, in: directory, qemu: qemu)
    }

    public func adopt(controlSocket: String, name: String, timeout: Duration) async throws -> any VirtualMachineControl {
        try await QEMUMachine.adopt(socketPath: controlSocket, name: name, timeout: timeout)
    }
}
