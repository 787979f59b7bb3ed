import ArgumentParser
import Foundation
import ClusterStore
import Controller
import Hummingbird
import Logging
import TetherHTTP
import TetherServer

/// `tether-benchmark controller-serve`: the controller benchmark's controller in a process of
/// its own (`controller` starts it), so that its CPU is told apart from the clients'. Agents
/// answer at once, as in `controller`; it serves until SIGTERM.
struct ControllerServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "controller-serve",
                                                    abstract: "The controller benchmark's controller, in a process of its own.",
                                                    shouldDisplay: false)

    @Option(help: "The API's unix socket.") var socket: String
    @Option(help: "The SQLite store.") var store: String

    func run() async throws {
        // Ends with the benchmark: its end of the standard input pipe closes when it goes,
        // killed or not.
        Thread.detachNewThread {
            _ = FileHandle.standardInput.readDataToEndOfFile()
            Foundation.exit(0)
        }
        let recorder = FirstCall()
        let controller = try await Controller(store: try SQLiteClusterStore(path: store)) { registration in
            RecordingAgent(host: registration.host, recorder: recorder)
        }
        var logger = Logger(label: "benchmark", factory: TetherLogHandler.init)
        logger.logLevel = .error
        let app = Application(router: ControllerRoutes.router(controller), server: LoopAffineServer.http1(),
                              configuration: .init(address: .unixDomainSocket(path: socket)),
                              logger: logger)
        try await app.runService()
    }
}
