import ArgumentParser
import Foundation
import Logging
import TetherModel

/// `tetherd --role controller|agent --config FILE`, with flags that override the file.
public struct TetherdCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tetherd",
        abstract: "Tether's daemon: the cluster's controller, or a host's agent.",
        discussion: "Configuration: samples/tetherd-controller.yaml and samples/tetherd-agent.yaml show every key. SIGTERM or SIGINT stops it gracefully.")

    @Option(help: "controller or agent (default: the file's `role`).") var role: TetherdConfiguration.Role?
    @Option(help: "The configuration file (YAML).") var config: String?
    @Option(help: "Controller: the local API socket.") var socket: String?
    @Option(help: "Controller: HOST:PORT of the mutual-TLS API. Agent: HOST:PORT of the agent API.") var listen: String?
    @Option(help: "Controller: the SQLite store.") var store: String?
    @Option(help: "Agent: HOST:PORT of the controller.") var controller: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    public init() {}

    public func run() async throws {
        var file = TetherdConfiguration()
        do {
            if let config { file = try TetherdConfiguration.load(config) }
            guard let role = role ?? file.role else {
                throw TetherError(.invalidArgument, "say which role: --role controller or --role agent (or `role:` in the configuration)")
            }
            var logger = Logger(label: "tetherd.\(role.rawValue)", factory: TetherLogHandler.init)
            logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            switch role {
            case .controller:
                var section = file.controller ?? .init()
                if let socket { section.socket = socket }
                if let listen { section.listen = try Self.address(listen, "--listen") }
                if let store { section.store = store }
                try await ControllerDaemon.run(section, logger: logger)
            case .agent:
                guard var section = file.agent else {
                    throw TetherError(.invalidArgument, "an agent needs an `agent:` section in --config (see samples/tetherd-agent.yaml)")
                }
                if let listen { section.listen = try Self.address(listen, "--listen") }
                if let controller { section.controller = try Self.address(controller, "--controller") }
                try await AgentDaemon.run(section, logger: logger)
            }
        } catch let error as TetherError {
            FileHandle.standardError.write(Data("tetherd: \(error)\n".utf8))
            throw ExitCode(error.code == .invalidArgument || error.code == .notFound ? 2 : 1)
        }
    }
}

extension TetherdCommand {
    static func address(_ text: String, _ flag: String) throws(TetherError) -> HostPort {
        guard let address = HostPort(text) else { throw TetherError(.invalidArgument, "\(flag) '\(text)' is not HOST:PORT") }
        return address
    }
}

extension TetherdConfiguration.Role: ExpressibleByArgument {}
