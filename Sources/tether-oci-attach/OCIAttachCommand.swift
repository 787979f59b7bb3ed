import Foundation
import OCIHook
import TetherModel

/// `tether-oci-hook [create|poststop] [--socket PATH] [--vm VM] [--timeout SECONDS]`, with the
/// container's state on stdin, as runc, crun, podman and CRI-O call hooks. Exit 0: done (or
/// nothing asked); otherwise one line on stderr, and the runtime refuses the container.
@main
struct OCIAttachCommand {
    static func main() async {
        do {
            let (stage, hook) = try options(Array(CommandLine.arguments.dropFirst()))
            let state = try ContainerState.parse(FileHandle.standardInput.readDataToEndOfFile())
            try await hook.run(stage, state: state)
        } catch {
            FileHandle.standardError.write(Data("tether-oci-hook: \(error)\n".utf8))
            exit(1)
        }
    }

    static func options(_ arguments: [String]) throws(TetherError) -> (DeviceHook.Stage, DeviceHook) {
        let environment = ProcessInfo.processInfo.environment
        var stage = DeviceHook.Stage.create
        var hook = DeviceHook(socket: environment["TETHER_SOCKET"] ?? "/run/tether/tetherd.sock", vm: environment["TETHER_VM"])
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            func value() throws(TetherError) -> String {
                guard let next = rest.popFirst() else { throw TetherError(.invalidArgument, "\(argument) needs a value") }
                return next
            }
            switch argument {
            case "create", "createRuntime", "prestart": stage = .create
            case "poststop": stage = .poststop
            case "--socket": hook.socket = try value()
            case "--vm": hook.vm = try value()
            case "--timeout":
                let text = try value()
                guard let seconds = Double(text), seconds > 0 else { throw TetherError(.invalidArgument, "--timeout '\(text)' is not a positive number of seconds") }
                hook.timeout = .milliseconds(Int(seconds * 1000))
            case "--sysfs": hook.sysfs = try value()
            default:
                throw TetherError(.invalidArgument, "unknown argument '\(argument)'; usage: tether-oci-hook [create|poststop] [--socket PATH] [--vm VM] [--timeout SECONDS]")
            }
        }
        return (stage, hook)
    }
}
