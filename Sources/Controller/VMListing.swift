import TetherModel

/// The VMs `tether status` lists, one line per VM (two when two heard hosts both run it), from
/// what the hosts registered.
enum VMListing {
    /// `heard`: the hosts the controller hears now.
    static func vms(of registrations: [AgentRegistration], heard: Set<String>) -> [VMStatus] {
        let reported = registrations.flatMap { r in
            r.vms.filter(\.status.occupiesHost).map {
                VMStatus(name: $0.name, host: r.host, state: $0.status.operatorWord, monitor: $0.monitor)
            }
        }
        // A host the controller cannot hear still lists the VMs it last had; one of them now
        // reported by a host it hears has moved (its host moved it on its own, management lost).
        // Two heard hosts with the same VM are both shown: that must never be hidden.
        var vms = reported.filter { vm in
            heard.contains(vm.host) || !reported.contains { $0.name == vm.name && heard.contains($0.host) }
        }
        // Between the switchover and the target's resume no copy occupies a host (the source is
        // `postmigrate`, the target `inmigrate`): the VM shows as migrating, from where it ran,
        // never missing.
        let listed = Set(vms.map(\.name))
        let moving = registrations.flatMap { r in
            r.vms.filter { !listed.contains($0.name) && $0.status != .shutdown }.map { (host: r.host, vm: $0) }
        }
        for name in Set(moving.map(\.vm.name)).sorted() {
            let copies = moving.filter { $0.vm.name == name }
            guard let copy = copies.first(where: { $0.vm.status == .postmigrate }) ?? copies.first else { continue }
            vms.append(VMStatus(name: name, host: copy.host, state: copy.vm.status.operatorWord, monitor: copy.vm.monitor))
        }
        return vms.sorted { $0.name < $1.name }
    }
}
