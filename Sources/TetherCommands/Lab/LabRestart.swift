import ArgumentParser
import Foundation
import Lab
import TetherModel

extension LabCommand {
    /// The crash tests' tool: a lab daemon killed with SIGKILL (if it runs) and started again,
    /// optionally set to kill itself right after journaling a chosen step
    /// (`TETHER_FAULT_KILL_AT`): the controller during one of its operations, or an agent during a
    /// move it makes on its own. Started again, a daemon reads its journal and finishes the job.
    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Kill a lab daemon (SIGKILL) if it runs, and start it again.",
            discussion: "NAME is `controller` or a host. With --kill-at STEP:PHASE (`evacuate:started`, `resume:done`) the daemon "
                + "started kills itself right after journaling that step of its first operation to reach it.")
        @OptionGroup var location: Location
        @Argument(help: "`controller` or a host.") var name: String
        @Option(name: .customLong("kill-at"), help: "STEP:PHASE at which the started daemon kills itself.") var killAt: String?

        func run() throws {
            try FailureReporting.run {
                let layout = try LabLayout(directory: location.dir)
                _ = try LabManifest.load(from: layout.manifestPath)
                let namespace: String, config: String
                if name == "controller" {
                    (namespace, config) = (LabLayout.controllerNamespace, "\(layout.controllerDirectory)/tetherd.yaml")
                } else {
                    guard layout.hosts.contains(name) else { throw TetherError(.notFound, "the lab has no host '\(name)' (hosts: \(layout.hosts.joined(separator: ", ")))") }
                    (namespace, config) = (LabLayout.namespace(of: name), "\(layout.hostDirectory(name))/tetherd.yaml")
                }
                if let killAt, !killAt.contains(":") {
                    throw TetherError(.invalidArgument, "--kill-at takes STEP:PHASE (`evacuate:started`), not '\(killAt)'")
                }
                let processes = LabProcesses(layout: layout)
                if let pid = processes.pid(name) {
                    kill(pid, SIGKILL)
                    let deadline = ContinuousClock.now + .seconds(5)
                    while processes.pid(name) != nil, ContinuousClock.now < deadline { usleep(20_000) }
                    guard processes.pid(name) == nil else { throw TetherError(.io, "\(name) (pid \(pid)) did not die of SIGKILL within 5 s") }
                }
                let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
                try processes.start(name, in: namespace, ["\(binaries)/tetherd", "--config", config],
                                    environment: killAt.map { ["TETHER_FAULT_KILL_AT": $0] } ?? [:])
                print("\(name) started" + (killAt.map { ", to kill itself at \($0)" } ?? ""))
            }
        }
    }
}
