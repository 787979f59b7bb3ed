import Foundation
import TetherModel

/// A Container Device Interface spec (kind `tether.io/usb`) for the devices a controller knows:
/// `podman run --device tether.io/usb=NAME` (or any CDI-aware runtime) then runs this host's
/// tether-oci-hook with the device's selector, as the annotation would. CDI adds no annotation,
/// so the selector travels in the hook's own arguments (`--devices`), and in the container's
/// environment as `TETHER_DEVICES` for the program inside to read. cdiVersion 0.5.0: the newest
/// Debian 12's podman (4.3) reads.
public struct CDISpec: Sendable, Equatable {
    public static let kind = "tether.io/usb"

    public struct Entry: Sendable, Equatable {
        public var name: String
        public var selector: DeviceSelector

        public init(name: String, selector: DeviceSelector) {
            self.name = name
            self.selector = selector
        }
    }

    public struct Hook: Sendable, Equatable {
        /// The hook program, and the arguments every call gets after its stage.
        public var path: String
        public var arguments: [String]

        public init(path: String, socket: String, vm: String?, timeout: Int?, sysfs: String?) {
            self.path = path
            arguments = ["--socket", socket] + (vm.map { ["--vm", $0] } ?? []) + (timeout.map { ["--timeout", "\($0)"] } ?? [])
                + (sysfs.map { ["--sysfs", $0] } ?? [])
        }
    }

    public var entries: [Entry]
    public var hook: Hook

    /// CDI names: letters, digits, '_', '-', '.', ':'; each product as `VID-PID`, each device with
    /// a serial also as `VID-PID-SERIAL`, each port as `HOST_PORT`; then the operator's own
    /// names (`--device NAME=SELECTOR`), which win over a made-up one of the same name.
    public static func entries(registrations: [AgentRegistration], named: [String: DeviceSelector]) -> [Entry] {
        var byName: [String: DeviceSelector] = [:]
        for r in registrations {
            for d in r.devices {
                byName[sanitized("\(r.host)_\(d.id)")] = .port(DeviceRef(host: r.host, id: d.id))
                guard let vendor = d.vendorId?.lowercased(), let product = d.productId?.lowercased() else { continue }
                byName["\(vendor)-\(product)"] = .product(vendorId: vendor, productId: product, serial: nil)
                if let serial = d.serial, !serial.isEmpty {
                    byName[sanitized("\(vendor)-\(product)-\(serial)")] = .product(vendorId: vendor, productId: product, serial: serial)
                }
            }
        }
        for (name, selector) in named { byName[name] = selector }
        return byName.map { Entry(name: $0.key, selector: $0.value) }.sorted { $0.name < $1.name }
    }

    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || ("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.:".unicodeScalars.contains($0)) }
    }

    static func sanitized(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)) ? Character($0) : "_" })
    }

    public init(entries: [Entry], hook: Hook) {
        self.entries = entries
        self.hook = hook
    }

    /// The spec as YAML (every string quoted: serials and selectors hold ':').
    public var yaml: String {
        func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        func list(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ", ") + "]" }
        var out = """
            # Written by `tether cdi generate`: `podman run --device \(Self.kind)=NAME` gives the container that device
            # through tether-oci-hook. Generate it again when devices come or go.
            cdiVersion: "0.5.0"
            kind: \(Self.kind)
            devices:

            """
        for entry in entries {
            let selector = entry.selector.description
            out += """
                  - name: \(quoted(entry.name))
                    containerEdits:
                      env: [\(quoted("TETHER_DEVICES=\(selector)"))]
                      hooks:
                        - hookName: createRuntime
                          path: \(quoted(hook.path))
                          args: \(list(["tether-oci-hook", "create"] + hook.arguments + ["--devices", selector]))
                        - hookName: poststop
                          path: \(quoted(hook.path))
                          args: \(list(["tether-oci-hook", "poststop"] + hook.arguments + ["--devices", selector]))

                """
        }
        return out
    }
}
