import Foundation
import TetherModel

/// Finds the programs Tether runs (QEMU, usbredirect) on PATH, and says which Debian package to
/// install when one is missing.
public enum Executable {
    public static func find(_ program: String, package: String) throws(TetherError) -> String {
        if program.contains("/") { return program }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw TetherError(.notFound, "\(program) is not installed (apt-get install \(package))")
    }
}
