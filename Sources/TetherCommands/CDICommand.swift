import ArgumentParser
import Foundation
import OCIHook
import TetherModel

/// `tether cdi generate`: a Container Device Interface spec for the devices the controller knows,
/// so that `podman run --device tether.io/usb=NAME` asks for one the CDI way.
public struct CDICommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cdi", abstract: "Container Device Interface specs: podman run --device tether.io/usb=NAME.",
        subcommands: [Generate.self])

    public init() {}

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a CDI spec (kind tether.io/usb) naming every device the controller knows, and those given with --device.")
        @Option(help: "Where to write it ('-': standard output). podman 4 reads /etc/cdi and /var/run/cdi.") var output = "/etc/cdi/tether.yaml"
        @Option(help: "The hook program the runtime runs.") var hook = "/usr/local/bin/tether-oci-hook"
        @Option(help: "The VM the containers of this runtime run in (the hook's --vm).") var vm: String?
        @Option(help: "The controller's socket the hook uses (default: the one asked here).") var hookSocket: String?
        @Option(help: "Seconds the hook waits for a device (the hook's --timeout).") var timeout: Int?
        @Option(help: "Where the hook finds this machine's USB devices (the hook's --sysfs; tests).") var hookSysfs: String?
        @Option(name: .customLong("device"), help: "NAME=SELECTOR: a name of your own (VID:PID, VID:PID:SERIAL or HOST/PORT); repeat for more.")
        var devices: [String] = []
        @Flag(help: "Only the --device names: do not ask the controller.") var offline = false
        @OptionGroup var controller: ControllerOptions

        func run() async throws {
            try await FailureReporting.run {
                var named: [String: DeviceSelector] = [:]
                for item in devices {
                    guard let equals = item.firstIndex(of: "="), case let name = String(item[..<equals]), CDISpec.isValidName(name) else {
                        throw TetherError(.invalidArgument, "--device '\(item)' is not NAME=SELECTOR (a name of letters, digits, '_', '-', '.', ':')")
                    }
                    named[name] = try DeviceSelector(parsing: String(item[item.index(after: equals)...]))
                }
                var registrations: [AgentRegistration] = []
                if !offline {
                    let client = try controller.client()
                    defer { Task { await client.api.close() } }
                    registrations = try await client.status().hosts.map(\.registration)
                }
                let entries = CDISpec.entries(registrations: registrations, named: named)
                guard !entries.isEmpty else {
                    throw TetherError(.notFound, "no device to name: the controller knows none" + (offline ? "" : " yet") + ", and no --device was given")
                }
                let spec = CDISpec(entries: entries, hook: .init(path: hook, socket: hookSocket ?? controller.socket, vm: vm, timeout: timeout,
                                                                 sysfs: hookSysfs))
                guard output != "-" else {
                    print(spec.yaml, terminator: "")
                    return
                }
                do {
                    try FileManager.default.createDirectory(atPath: (output as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try Data(spec.yaml.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
                } catch {
                    throw TetherError(.io, "cannot write \(output)", cause: "\(error)")
                }
                print("wrote \(output): " + entries.map { "\(CDISpec.kind)=\($0.name)" }.joined(separator: ", "))
            }
        }
    }
}
