import Foundation
import Hypervisor
import TetherModel

/// Starting a VM from its disk (shared/spec/ha.md, restart mode): a dead host's VMs on the host
/// placement chose, and a fenced VM that was powered off and that nobody restarted meanwhile.
extension HostAgentService {
    public func startFromDisk(_ vm: RegisteredVM) async throws(TetherError) -> VMRunState {
        guard APINames.isValid(vm.name) else { throw TetherError(.invalidArgument, "vm '\(vm.name.prefix(63))' \(APINames.rule)") }
        if let launch = vm.launch { try checkLaunchable(launch) }
        try beginStarting(vm.name)
        defer { startingVMs.remove(vm.name) }
        if let existing = vms[vm.name] {
            let status = (try? await existing.machine.status()) ?? .unreachable
            if status == .postmigrate {
                // The stopped source of a migration that went elsewhere: its state is not this
                // VM's any more; the copy from disk takes its place.
                await existing.machine.kill()
                await forget(vm.name, existing, movedTo: settings.host)
            } else {
                // Asked again after an answer that was lost: the copy started the first time.
                guard status != .inmigrate, fenced[vm.name] == nil else {
                    throw TetherError(.busy, "\(settings.host) already has \(vm.name) (\(status.operatorWord)); it does not start a second copy")
                }
                return status
            }
        }
        guard let launch = vm.launch else {
            throw TetherError(.invalidArgument, "\(vm.name) has no launch figures (its agent adopted it by its QMP socket): it cannot be started on another host")
        }
        guard launch.name == vm.name else {
            throw TetherError(.invalidArgument, "the launch figures of \(vm.name) name another VM, \(launch.name)")
        }
        var registration = vm
        registration.launch = nil
        registration.monitor = nil
        let machine = try await launchFromDisk(launch)
        vms[vm.name] = ManagedVM(machine: machine, registration: registration, launch: launch)
        watchGuest(vm.name, machine)
        try? VMRecord(registration: registration, launch: launch, qmpSocket: nil).save(in: settings.stateDirectory)   // clears any tombstone
        let status = (try? await machine.status()) ?? .unreachable
        logger.notice("started from its disk", metadata: ["vm": "\(vm.name)", "state": "\(status)"])
        return status
    }

    /// Marks `name` as being started here, before anything is awaited. A second request while
    /// the first still starts its QEMU (its caller gave up waiting and asked again, or a restarted
    /// controller asks what the old one did) would start a second QEMU beside it: it is told to
    /// ask again, and then finds the first one's copy.
    func beginStarting(_ name: String) throws(TetherError) {
        guard startingVMs.insert(name).inserted else {
            throw TetherError(.busy, "\(name) is being started on \(settings.host) by an earlier request; ask again shortly")
        }
    }

    /// A fresh QEMU for `launch`, running, its disk opened through this host's own paths.
    func launchFromDisk(_ launch: VMLaunch) async throws(TetherError) -> any VirtualMachineControl {
        do {
            let spec = try launch.spec(incoming: false, directory: settings.stateDirectory, datastores: settings.datastores, pathStates: pathStates)
            return try await driver.launch(spec, in: settings.stateDirectory)
        } catch {
            throw TetherError(.io, "cannot start \(launch.name) from its disk on \(settings.host)", cause: "\(error)")
        }
    }

    /// What this host can start, asked before QEMU is: a VM larger than the host, or one whose
    /// files the host does not have, is the request's fault (an answer that says so), not a
    /// QEMU that fails to start.
    func checkLaunchable(_ launch: VMLaunch) throws(TetherError) {
        try launch.validate()
        guard launch.memoryMiB <= settings.memoryMiB else {
            throw TetherError(.unsupported, "\(launch.name) needs \(launch.memoryMiB) MiB; \(settings.host) has \(settings.memoryMiB)")
        }
        for path in [launch.disk].compactMap({ $0 }) + launch.memoryImages.map(\.path) {
            guard let real = Self.realPath(path) else { throw TetherError(.notFound, "\(settings.host) has no file \(path) for \(launch.name)") }
            try checkImageDirectory(real, named: path, for: launch.name)
        }
    }

    /// A file's real path (links followed) is one of this host's own VMs' files, or lies under
    /// one of the image directories.
    private func checkImageDirectory(_ real: String, named path: String, for vm: String) throws(TetherError) {
        guard let roots = settings.imageDirectories else { return }
        if settings.ownImageFiles.contains(where: { Self.realPath($0) == real }) { return }
        let realRoots = roots.map { Self.realPath($0) ?? $0 }
        guard !realRoots.contains(where: { real.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else { return }
        throw TetherError(.permissionDenied, "\(path) (for \(vm)) is outside \(settings.host)'s image directories (\(roots.joined(separator: ", "))); "
                          + "add its folder to agent.imageDirectories")
    }

    private static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}
