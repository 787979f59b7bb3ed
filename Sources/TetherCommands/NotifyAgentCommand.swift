import ArgumentParser
import TetherModel
import TetherSystem

/// `tether notify-agent`: what the udev rules run when a USB device comes or goes. It tells the
/// local agent (one datagram, never waiting) and always succeeds: a rule must never block udev,
/// and a host without an agent has nobody to tell.
struct NotifyAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notify-agent",
                                                    abstract: "Tell the local agent a USB device came or went (for the udev rules).")

    @Option(help: "add, remove, bind, ...") var event: String
    @Option(help: "The device's sysfs path (udev's $devpath).") var devpath: String
    @Option(help: "The agent's events socket.") var socket: String = AgentEvents.defaultSocket

    func run() {
        AgentEvents.notify("\(event) \(devpath)", socket: socket)
    }
}
