import ArgumentParser
import TetherModel

/// A TetherError on its way out of a command: one line on stderr, and an exit status a script
/// can tell apart from a usage error (64) — 1 for a failure.
struct CommandFailure: Error, CustomStringConvertible {
    var error: TetherError
    init(_ error: TetherError) { self.error = error }
    var description: String { error.description }
}
