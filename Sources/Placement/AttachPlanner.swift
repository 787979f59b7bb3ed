import TetherModel

public enum AttachPlanner {
    /// Decides per shared/spec/placement.md. Throws only for a request that names nothing in
    /// the cluster; every answerable question gets a decision, `reject` included.
    /// `state` is where VMs run and what is free now; a daemon keeps one current, and a one-off
    /// question builds it from the index.
    /// `vm` names the container's VM where the cluster may not list the container yet (one the
    /// OCI hook is starting); without it, the container must be listed on a VM.
    public static func decide(container: String, vm vmName: String? = nil, device ref: DeviceRef, _ index: ClusterIndex,
                              state: PlacementState? = nil, engine: PlacementEngine = .standard) throws(TetherError) -> AttachDecision {
        let listed = index.vmIndex(container: container)
        let v: Int
        if let vmName {
            guard let named = index.vmIndex(vmName) else { throw TetherError(.notFound, "no VM '\(vmName)' is in the cluster") }
            if let listed, listed != named {
                throw TetherError(.invalidArgument, "container '\(container)' runs in \(index.vm(listed).name), not in \(vmName)")
            }
            v = named
        } else {
            guard let listed else {
                throw TetherError(.notFound, "no VM runs container '\(container)' (containers are listed under each VM's 'containers')")
            }
            v = listed
        }
        guard let deviceHost = index.hostIndex(ref.host) else {
            throw TetherError(.notFound, "device '\(ref)': host '\(ref.host)' is not in the cluster")
        }
        guard let device = index.host(deviceHost).devices.first(where: { $0.id == ref.id }) else {
            throw TetherError(.notFound, "device '\(ref)': host '\(ref.host)' has no device '\(ref.id)'")
        }
        let vm = index.vm(v)
        let required = device.requiredBitsPerSecond
        let allocated = vm.networkMbps * 1_000_000
        let threshold = index.cluster.policy.migrateThresholdPercent
        var decision = AttachDecision(action: .reject, container: container, vm: vm.name, vmHost: vm.host, device: ref.description,
                                      targetHost: nil, requiredBitsPerSecond: required, allocatedBitsPerSecond: allocated,
                                      migrateThresholdPercent: threshold, reasons: [], forwardedAfterMove: nil)

        // First row of the table: nothing else matters when no channel or move can reach the
        // device, and a forward planned to a host that is down would fail at its first step.
        guard index.isUp(.management, deviceHost) else {
            decision.reasons = ["\(ref.host) is down (its management network is not up): the device cannot be reached"]
            return decision
        }
        if let owner = index.deviceOwner[ref], owner != v {
            decision.reasons = ["\(ref) is attached to \(index.vm(owner).name); a USB device serves one VM at a time"]
            return decision
        }
        if ref.host == vm.host {
            decision.action = .local
            decision.reasons = ["the device is on \(vm.host), where \(vm.name) runs"]
            return decision
        }

        decision.reasons = [Self.share(required: required, allocated: allocated, threshold: threshold)]
        // required > threshold% of allocated, in integers.
        let wantsMigration = required * 100 > threshold * allocated
        if wantsMigration {
            let state = state ?? PlacementState(index)
            let request = MoveRequest(vm: v, mode: .live, via: .migration)
            let choice = engine.place(request, index, state, among: [deviceHost])
            if choice.host != nil {
                decision.action = .migrate
                decision.targetHost = ref.host
                decision.reasons.append("\(ref.host) can take \(vm.name): it is up, has the cpus and memory, a path to \(vm.datastore), "
                                        + "no rule against it, and the migration network is up on both ends")
                let others = vm.devices.filter { $0.host != ref.host }.map(\.description).sorted()
                if !others.isEmpty {
                    decision.forwardedAfterMove = others
                    decision.reasons.append("its other devices stay where they are and are forwarded: \(others.joined(separator: ", "))")
                }
                return decision
            }
            let why = choice.rejected.first.map { $0.reason.text(index) } ?? "no reason given"
            decision.reasons.append("migrating \(vm.name) to \(ref.host) is not possible: \(ref.host): \(why)")
        }
        if required <= allocated {
            decision.action = .forward
            decision.reasons.append("forward the device over a channel from \(ref.host) to \(vm.host)")
        } else {
            decision.reasons.append("forwarding would need more than \(vm.name)'s whole network allocation")
        }
        return decision
    }

    /// "device needs 197.4 Mbit/s, 197% of the VM's 100 Mbit/s (threshold 50%)"
    public static func share(required: Int, allocated: Int, threshold: Int) -> String {
        guard allocated > 0 else {
            return "device needs \(Rate.bits(required)); the VM has no network bandwidth allocated (threshold \(threshold)%)"
        }
        let percent = required * 100 / allocated
        let shown = percent == 0 && required > 0 ? "under 1%" : "\(percent)%"
        return "device needs \(Rate.bits(required)), \(shown) of the VM's \(Rate.bits(allocated)) (threshold \(threshold)%)"
    }
}

/// Bit rates as people quote them: 197.4 Mbit/s, 64.0 kbit/s, 100 Mbit/s.
public enum Rate {
    public static func bits(_ bitsPerSecond: Int) -> String {
        if bitsPerSecond >= 1_000_000 {
            return bitsPerSecond % 1_000_000 == 0 ? "\(bitsPerSecond / 1_000_000) Mbit/s" : tenths(bitsPerSecond, 1_000_000) + " Mbit/s"
        }
        if bitsPerSecond >= 1_000 { return tenths(bitsPerSecond, 1_000) + " kbit/s" }
        return "\(bitsPerSecond) bit/s"
    }

    /// value / unit with one decimal, rounded half up, in integers.
    static func tenths(_ value: Int, _ unit: Int) -> String {
        let t = (value * 10 + unit / 2) / unit
        return "\(t / 10).\(t % 10)"
    }
}
