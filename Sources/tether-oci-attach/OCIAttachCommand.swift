import Foundation
import OCIHook
import TetherModel

/// `tether-oci-hook [create|poststop] [--socket PATH] [--vm VM] [--timeout SECONDS] [--devices SELECTORS]`, with the
/// container's state on stdin, as runc, crun, podman and CRI-O call hooks. Exit 0: done (or
/// nothing asked); otherwise one line on stderr, and the runtime refuses the container.
@main
struct OCIAttachCommand {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "watch" {
            do { try await watch(Array(arguments.dropFirst())).run() } catch {
                FileHandle.standardError.write(Data("tether-oci-hook: \(error)\n".utf8))
                exit(1)
            }
            return
        }
        do {
            var (stage, hook) = try options(arguments)
            hook.watcher = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let state = try ContainerState.parse(FileHandle.standardInput.readDataToEndOfFile())
            try await hook.run(stage, state: state)
        } catch {
            FileHandle.standardError.write(Data("tether-oci-hook: \(error)\n".utf8))
            exit(1)
        }
    }

    /// `watch --pid PID --container NAME --socket PATH [--timeout SECONDS]` (left behind by a
    /// CDI create hook; see `ContainerWatch`).
    static func watch(_ arguments: [String]) throws(TetherError) -> ContainerWatch {
        var values: [String: String] = [:]
        var rest = arguments[...]
        while let name = rest.popFirst() {
            guard ["--pid", "--container", "--socket", "--timeout"].contains(name), let value = rest.popFirst() else {
                throw TetherError(.invalidArgument, "usage: tether-oci-attach watch --pid PID --container NAME --socket PATH [--timeout SECONDS]")
            }
            values[name] = value
        }
        guard let pid = values["--pid"].flatMap(Int32.init), pid > 0, let container = values["--container"], let socket = values["--socket"] else {
            throw TetherError(.invalidArgument, "watch needs --pid (a process id), --container and --socket")
        }
        let seconds = values["--timeout"].flatMap(Int.init) ?? 60
        return ContainerWatch(pid: pid, container: container, socket: socket, timeout: .seconds(seconds))
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
            case "--devices": hook.devices = try value()
            default:
                throw TetherError(.invalidArgument, "unknown argument '\(argument)'; usage: tether-oci-hook [create|poststop] [--socket PATH] [--vm VM] [--timeout SECONDS] [--devices SELECTORS]")
            }
        }
        return (stage, hook)
    }
}
