import ArgumentParser
import Foundation
import Hypervisor
import TetherModel

/// The errors a command expects (bad input, a peer or QEMU that refused) end as one line on
/// stderr, `error: ...`, and an exit status; anything else goes on to ArgumentParser.
enum FailureReporting {
    static func run(exitStatus: Int32 = 1, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            try report(error, exitStatus)
        }
    }

    static func run(exitStatus: Int32 = 1, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            try report(error, exitStatus)
        }
    }

    private static func report(_ error: any Error, _ exitStatus: Int32) throws -> Never {
        switch error {
        case is TetherError, is QMPError, is ClusterFileError:
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(exitStatus)
        default:
            throw error
        }
    }
}
