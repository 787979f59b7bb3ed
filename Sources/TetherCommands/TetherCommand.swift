import ArgumentParser

/// `tether`: the operator's command line. Subcommands arrive with their modules.
public struct TetherCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tether",
        abstract: "Give containers the USB devices of other hosts: measure, decide, attach.",
        subcommands: [ProbeCommand.self, PlanCommand.self, AttachCommand.self, DetachCommand.self, StatusCommand.self, EventsCommand.self, VMCommand.self,
                      CertsCommand.self, ChannelCommand.self, NotifyAgentCommand.self, StoreCommand.self, CDICommand.self, LabCommand.self, DemoCommand.self]
    )

    public init() {}

    /// Call before anything else: long-running commands must see SIGINT and SIGTERM.
    public static func prepareProcess() { Termination.unblockSignals() }
}
