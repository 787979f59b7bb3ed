import Foundation
import TetherModel
import TetherSystem

/// The machine types one QEMU binary offers (`-machine help`). An alias such as `pc` names a
/// different versioned type in each QEMU release, and a migration loads only into the same
/// versioned type, so a VM is started with the versioned type the alias stands for, and the
/// receiving end of its migration with the type the source reports.
public struct MachineTypes: Sendable, Equatable {
    /// Every type this QEMU accepts, aliases included.
    public var names: Set<String>
    /// Alias to versioned type: `pc` to `pc-i440fx-7.2` on QEMU 7.2.
    public var aliases: [String: String]

    /// Asks the QEMU at `qemu` (a path, or a name looked up in PATH).
    public static func of(qemu: String = "qemu-system-x86_64") throws(TetherError) -> MachineTypes {
        let executable = try Executable.find(qemu, package: "qemu-system-x86")
        let (status, output) = try ChildProcess.run(executable, ["-machine", "help"], environment: QEMUMachine.cleanEnvironment())
        let types = parse(output)
        guard status == 0, !types.names.isEmpty else {
            throw TetherError(.io, "\(executable) -machine help did not list machine types (status \(status))",
                              cause: String(output.prefix(400)))
        }
        return types
    }

    /// Parses `-machine help`: a header line, then `NAME  DESCRIPTION [(alias of TYPE)] [(default)]`.
    static func parse(_ text: String) -> MachineTypes {
        var types = MachineTypes(names: [], aliases: [:])
        for line in text.split(whereSeparator: \.isNewline) {
            guard !line.hasPrefix(" "), !line.hasSuffix(":"),
                  let name = line.split(separator: " ", maxSplits: 1).first.map(String.init) else { continue }
            types.names.insert(name)
            if let range = line.range(of: "(alias of "), let end = line[range.upperBound...].firstIndex(of: ")") {
                types.aliases[name] = String(line[range.upperBound..<end])
            }
        }
        return types
    }

    /// The concrete type to start a VM with when its spec asks for `requested`.
    public func resolve(_ requested: String) throws(TetherError) -> String {
        if let concrete = aliases[requested] { return concrete }
        guard names.contains(requested) else {
            let family = requested.split(separator: "-").prefix(2).joined(separator: "-")
            let near = names.filter { $0.hasPrefix(family) }.sorted().suffix(4)
            throw TetherError(.unsupported, "this QEMU has no machine type \(requested)"
                              + (near.isEmpty ? "" : "; it has \(near.joined(separator: ", "))")
                              + ". A VM migrates only into the machine type it runs: receive it on a host whose QEMU has that type")
        }
        return requested
    }
}
