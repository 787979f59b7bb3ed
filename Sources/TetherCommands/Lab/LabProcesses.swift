import Foundation
import Lab
import TetherModel
import TetherSystem

/// The lab's daemons: started in their namespaces detached from the command that started them
/// (a session of their own, output to DIR/log/NAME.log, pid in DIR/run/NAME.pid), so that
/// `tether lab up` returns and the cluster stays up until `tether lab down`.
struct LabProcesses {
    let layout: LabLayout

    /// The web view on this machine's loopback: socat hands each connection to a socat in the
    /// controller's namespace, which dials the controller's loopback listener there.
    func startWebForwarder() throws(TetherError) {
        let socat = try Executable.find("socat", package: "socat")
        let ip = try Executable.find("ip", package: "iproute2")
        let port = LabLayout.webPort
        let inner = "\(ip) netns exec \(LabLayout.controllerNamespace) \(socat) STDIO TCP\\:127.0.0.1\\:\(port)"
        let script = "setsid \"$@\" >> '\(layout.log("web"))' 2>&1 < /dev/null & echo $! > '\(layout.pidFile("web"))'"
        let result = try ChildProcess.run(try Executable.find("sh", package: "dash"),
                                          ["-c", script, "sh", socat, "TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork", "EXEC:\(inner)"])
        guard result.status == 0 else { throw TetherError(.io, "cannot forward the web view to 127.0.0.1:\(port): \(result.output)") }
    }

    func start(_ name: String, in namespace: String, _ command: [String], environment: [String: String] = [:]) throws(TetherError) {
        for directory in ["\(layout.directory)/log", "\(layout.directory)/run"] {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let ip = try Executable.find("ip", package: "iproute2")
        let env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        // The arguments travel as "$@", never through the shell's parser.
        // Appended: a daemon started again (a crash test) keeps the log of its first life.
        let script = "setsid \"$@\" >> '\(layout.log(name))' 2>&1 < /dev/null & echo $! > '\(layout.pidFile(name))'"
        let result = try ChildProcess.run(try Executable.find("sh", package: "dash"),
                                          ["-c", script, "sh", ip, "netns", "exec", namespace, "env"] + env + command)
        guard result.status == 0 else { throw TetherError(.io, "cannot start \(name) in \(namespace): \(result.output)") }
    }

    /// The pid of a daemon the lab started, while it runs.
    func pid(_ name: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: layout.pidFile(name), encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 else { return nil }
        return pid
    }

    /// Kills every process of the lab: those it started, and whatever else runs with the lab's
    /// directory on its command line (the VMs' QEMU, relays).
    func killAll() {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: "\(layout.directory)/run") {
            for name in names where name.hasSuffix(".pid") {
                if let pid = pid(String(name.dropLast(4))) { kill(pid, SIGKILL) }
            }
        }
        if let pkill = try? Executable.find("pkill", package: "procps") { _ = try? ChildProcess.run(pkill, ["-9", "-f", layout.directory + "/"]) }
    }

    func tail(_ name: String) -> String {
        let text = (try? String(contentsOfFile: layout.log(name), encoding: .utf8)) ?? ""
        return String(text.suffix(600))
    }
}
