import TetherModel

/// Which registered device a selector names. A selector that fits several devices (two dongles
/// of one model) takes a free one (or the VM's own), the VM's host first: the cheapest attach;
/// then by name, so the answer is stable.
public enum DeviceResolver {
    public static func resolve(_ selector: DeviceSelector, in directory: DeviceDirectory, attachedTo owner: [DeviceRef: String],
                               for vm: String?, on vmHost: String?) throws(TetherError) -> DeviceRef {
        let matches = directory.candidates(selector)
        guard !matches.isEmpty else {
            if case .port(let ref) = selector, !directory.knows(host: ref.host) {
                throw TetherError(.notFound, "no agent has registered host '\(ref.host)'; `tether status` lists hosts")
            }
            throw TetherError(.notFound, "no registered device matches \(selector); `tether status` lists every host's devices")
        }
        func rank(_ ref: DeviceRef) -> (Int, Int, String) {
            (owner[ref] == nil || owner[ref] == vm ? 0 : 1, ref.host == vmHost ? 0 : 1, ref.description)
        }
        return matches.min { rank($0) < rank($1) } ?? matches[0]
    }

    /// Over registrations as they are (tests, one-off callers): the directory built on the spot.
    public static func resolve(_ selector: DeviceSelector, registrations: [AgentRegistration], attachedTo owner: [DeviceRef: String],
                               for vm: String?, on vmHost: String?) throws(TetherError) -> DeviceRef {
        try resolve(selector, in: DeviceDirectory(registrations), attachedTo: owner, for: vm, on: vmHost)
    }
}

/// Every registered device, found by port or by product without walking every host's list: an
/// attach names one device among thousands of hosts' (1,000 hosts made the walk most of a
/// dry-run decision's time). Built with the controller's warm model, when registrations change.
public struct DeviceDirectory: Sendable {
    private struct Entry: Sendable {
        var ref: DeviceRef
        var device: RegisteredDevice
    }
    private var byPort: [DeviceRef: Entry] = [:]
    private var byProduct: [String: [Entry]] = [:]
    private var hosts: Set<String> = []

    public init(_ registrations: [AgentRegistration]) {
        for r in registrations {
            hosts.insert(r.host)
            for device in r.devices {
                let entry = Entry(ref: DeviceRef(host: r.host, id: device.id), device: device)
                byPort[entry.ref] = entry
                if let vendor = device.vendorId?.lowercased(), let product = device.productId?.lowercased() {
                    byProduct["\(vendor):\(product)", default: []].append(entry)
                }
            }
        }
    }

    public func knows(host: String) -> Bool { hosts.contains(host) }

    /// The devices the selector matches, by its own rule (`DeviceSelector.matches`).
    func candidates(_ selector: DeviceSelector) -> [DeviceRef] {
        switch selector {
        case .port(let ref):
            guard let entry = byPort[ref], selector.matches(entry.device, on: ref.host) else { return [] }
            return [ref]
        case .product(let vendor, let product, _):
            return (byProduct["\(vendor):\(product)"] ?? []).filter { selector.matches($0.device, on: $0.ref.host) }.map(\.ref)
        }
    }
}
