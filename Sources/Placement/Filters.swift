import TetherModel

/// The hosts a request rules out by name: the failed host, the VM's own host.
public struct ExcludedHostFilter: PlacementFilter {
    public let name = "excluded"
    public init() {}
    public func filter(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ c: inout Candidates) {
        // Usually one host: a linear look beats hashing every candidate.
        let excluded = r.excluded.map { ($0.key, $0.value) }
        guard !excluded.isEmpty else { return }
        c.remove { host in excluded.first { $0.0 == host }?.1 }
    }
}

/// A host is up when its management network is up.
public struct HostUpFilter: PlacementFilter {
    public let name = "host-up"
    public init() {}
    public func filter(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ c: inout Candidates) {
        let up = index.networkUp[.management] ?? []
        c.remove { up[$0] ? nil : .down }
    }
}

/// A live or suspend-resume move needs its carrying network up on both ends; a restart
/// carries nothing.
public struct CarrierNetworkFilter: PlacementFilter {
    public let name = "carrier-network"
    public init() {}
    public func filter(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ c: inout Candidates) {
        guard r.mode != .restart else { return }
        guard let via = r.via else {
            c.remove { _ in .noCarrier }
            return
        }
        let source = state.vmHost[r.vm]
        if source < 0 || !index.isUp(via, source) || r.sourceDown.contains(via) {
            c.remove { _ in .sourceCannotSend(via) }
            return
        }
        let up = index.networkUp[via] ?? []
        c.remove { up[$0] ? nil : .networkDown(via) }
    }
}

/// Free cpus and memory, after the moves already planned.
public struct CapacityFilter: PlacementFilter {
    public let name = "capacity"
    public init() {}
    public func filter(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ c: inout Candidates) {
        let vm = index.cluster.vms[r.vm]
        let (cpus, memory) = (vm.cpus, vm.memoryMiB)
        let (freeCPUs, freeMemory) = (state.freeCPUs, state.freeMemoryMiB)
        c.remove { host in
            if freeCPUs[host] < cpus { return .notEnoughCPUs(needs: cpus, free: max(0, freeCPUs[host])) }
            if freeMemory[host] < memory { return .notEnoughMemory(needs: memory, free: max(0, freeMemory[host])) }
            return nil
        }
    }
}

/// The VM's disk and state live on its datastore: the host needs a working path to it.
public struct DatastoreFilter: PlacementFilter {
    public let name = "datastore"
    public init() {}
    public func filter(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ c: inout Candidates) {
        let datastore = index.vmDatastore[r.vm]
        let (offsets, reach) = (index.datastoreOffsets, index.datastoreReach)
        c.remove { host in
            for i in offsets[host]..<offsets[host + 1] where reach[i] == datastore { return nil }
            return .noDatastorePath(datastore: datastore)
        }
    }
}

/// `must` vm-host rules: only the hosts they name.
public struct MustRuleFilter: PlacementFilter {
    public let name = "must-rule"
    public init() {}
    public func filter(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ c: inout Candidates) {
        guard let allowed = index.mustHosts[r.vm] else { return }
        c.remove { allowed.contains($0) ? nil : .mustRule }
    }
}

/// Anti-affinity: never on a host where a partner runs (counting moves already planned).
public struct AntiAffinityFilter: PlacementFilter {
    public let name = "anti-affinity"
    public init() {}
    public func filter(_ r: MoveRequest, _ index: ClusterIndex, _ state: PlacementState, _ c: inout Candidates) {
        let partners = index.antiAffinity[r.vm]
        guard !partners.isEmpty else { return }
        let partnerHosts = partners.map { state.vmHost[$0] }
        c.remove { host in
            partnerHosts.firstIndex(of: host).map { .antiAffinity(withVM: partners[$0]) }
        }
    }
}
