import Foundation
import OCIHook
import Testing
import TetherModel

/// `tether cdi generate`'s spec: a name per product, per serial and per port, the operator's
/// own names winning, and hooks that carry the selector (CDI adds no annotation).
struct CDISpecTests {
    static let host = AgentRegistration(
        host: "host-b", agentAddress: HostPort(host: "10.0.0.2", port: 7401), cpus: 8, memoryMiB: 1024, networks: [:], datastores: [],
        devices: [RegisteredDevice(id: "1-3", vendorId: "046D", productId: "0825", serial: "6A1B 2C3D", periodicBytesPerSecond: 1),
                  RegisteredDevice(id: "1-4", vendorId: "1a86", productId: "7523", periodicBytesPerSecond: 1)],
        vms: [])

    @Test func everyDeviceIsNamedThreeWaysAndTheOperatorsNamesWin() throws {
        let entries = CDISpec.entries(registrations: [Self.host], named: ["1a86-7523": .port(DeviceRef(host: "host-b", id: "1-4")),
                                                                        "dongle": try DeviceSelector(parsing: "1a86:7523")])
        #expect(entries.map(\.name) == ["046d-0825", "046d-0825-6A1B_2C3D", "1a86-7523", "dongle", "host-b_1-3", "host-b_1-4"])
        #expect(entries.allSatisfy { CDISpec.isValidName($0.name) })
        #expect(entries.first { $0.name == "046d-0825-6A1B_2C3D" }?.selector.description == "046d:0825:6A1B 2C3D")
        #expect(entries.first { $0.name == "1a86-7523" }?.selector.description == "host-b/1-4", "the operator's name wins")
        #expect(!CDISpec.isValidName("-x") && !CDISpec.isValidName("a/b") && CDISpec.isValidName("usb.dongle:1"))
    }

    @Test func theHooksCarryTheSelectorAndTheHooksOptions() {
        let spec = CDISpec(entries: [.init(name: "dongle", selector: .product(vendorId: "1a86", productId: "7523", serial: nil))],
                           hook: .init(path: "/usr/local/bin/tether-oci-hook", socket: "/run/tether/tetherd.sock", vm: "vm-7", timeout: 30, sysfs: nil))
        let yaml = spec.yaml
        #expect(yaml.contains("cdiVersion: \"0.5.0\"\nkind: tether.io/usb\n"))
        #expect(yaml.contains("env: [\"TETHER_DEVICES=1a86:7523\"]"))
        #expect(yaml.contains(#"args: ["tether-oci-hook", "create", "--socket", "/run/tether/tetherd.sock", "--vm", "vm-7", "--timeout", "30", "--devices", "1a86:7523"]"#))
        #expect(yaml.contains(#"args: ["tether-oci-hook", "poststop", "--socket""#))
    }
}
