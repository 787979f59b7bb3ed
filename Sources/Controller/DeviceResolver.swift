import TetherModel

/// Which registered device a selector names. A selector that fits several devices (two dongles
/// of one model) takes a free one (or the VM's own), the VM's host first: the cheapest attach;
/// then by name, so the answer is stable.
public enum DeviceResolver {
    public static func resolve(_ selector: DeviceSelector, registrations: [AgentRegistration], attachedTo owner: [DeviceRef: String],
                               for vm: String?, on vmHost: String?) throws(TetherError) -> DeviceRef {
        var matches: [DeviceRef] = []
        for r in registrations {
            for device in r.devices where selector.matches(device, on: r.host) {
                matches.append(DeviceRef(host: r.host, id: device.id))
            }
        }
        guard !matches.isEmpty else {
            if case .port(let ref) = selector, !registrations.contains(where: { $0.host == ref.host }) {
                throw TetherError(.notFound, "no agent has registered host '\(ref.host)'; `tether status` lists hosts")
            }
            throw TetherError(.notFound, "no registered device matches \(selector); `tether status` lists every host's devices")
        }
        func rank(_ ref: DeviceRef) -> (Int, Int, String) {
            (owner[ref] == nil || owner[ref] == vm ? 0 : 1, ref.host == vmHost ? 0 : 1, ref.description)
        }
        return matches.min { rank($0) < rank($1) } ?? matches[0]
    }
}
