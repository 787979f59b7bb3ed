import Foundation
import TetherModel
import TetherSystem

/// What `tether demo` needs on this machine, and how to get what is missing, in one message.
enum DemoPrerequisites {
    /// Tools by the Debian package that has them.
    static let tools: [(program: String, package: String)] = [
        ("ip", "iproute2"), ("qemu-system-x86_64", "qemu-system-x86"), ("umockdev-run", "umockdev"), ("runc", "runc"),
        ("busybox", "busybox-static"), ("nsenter", "util-linux"), ("qemu-storage-daemon", "qemu-system-common"),
    ]

    /// Tether's own programs, which the demo runs from beside `tether`.
    static let siblings = ["tetherd", "tether-oci-hook", "tether-oci-attach", "usbredir-replay"]

    /// nil when all is there; otherwise what is missing and the commands that fix it.
    static func missing(directory: String, isRoot: Bool = getuid() == 0) -> String? {
        var problems: [String] = []
        if !isRoot { problems.append("root (it makes network namespaces and runs runc): run it with sudo") }
        let packages = tools.filter { (try? Executable.find($0.program, package: $0.package)) == nil }
        if !packages.isEmpty {
            problems.append("\(packages.map(\.program).joined(separator: ", ")): sudo apt-get install -y "
                            + Set(packages.map(\.package)).sorted().joined(separator: " "))
        }
        let absent = siblings.filter { !FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)") }
        if !absent.isEmpty {
            problems.append("\(absent.joined(separator: ", ")) beside tether in \(directory): swift build -c release (builds them all)")
        }
        return problems.isEmpty ? nil : "tether demo needs:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
