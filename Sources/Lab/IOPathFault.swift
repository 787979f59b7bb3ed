import Foundation
import TetherModel
import TetherSystem

/// Every IO path of one VM lost while its host's own paths stay up, as when the storage stops
/// serving that host's sessions of one disk: in the host's namespace, nftables drops the VM's
/// QEMU's established NBD connections and refuses every new NBD connection (a SYN gets a
/// reset, so QEMU's and the agent's attempts fail at once). The agent's heartbeat connections,
/// opened before, go on: the host still writes its records, its paths are up. The lab tests
/// and `tether-benchmark lab-failover` inject it.
public enum IOPathFault {
    static let table = "tether_io_fault"

    /// `refuseNew: false` breaks only the connections the VM has: a fresh one works. The rules
    /// are written to `directory` first (nft reads them from a file).
    public static func cut(_ vm: String, on host: String, directory: String, refuseNew: Bool = true) throws(TetherError) {
        let ports = try nbdPorts(of: vm, on: host)
        guard !ports.isEmpty else { throw TetherError(.notFound, "no NBD connection of \(vm)'s QEMU in \(LabLayout.namespace(of: host))") }
        let namespace = LabLayout.namespace(of: host)
        let rules = """
            table inet \(table) {
              chain output {
                type filter hook output priority 0; policy accept;
                tcp dport \(LabLayout.nbdPort) tcp sport { \(ports.joined(separator: ", ")) } drop
                \(refuseNew ? "tcp dport \(LabLayout.nbdPort) tcp flags & (syn | ack) == syn reject with tcp reset" : "")
              }
            }
            """
        let file = "\(directory)/\(table).nft"
        do {
            try rules.write(toFile: file, atomically: true, encoding: .utf8)
        } catch {
            throw TetherError(.io, "cannot write the nftables rules to \(file)", cause: "\(error)")
        }
        _ = try run(try Executable.find("ip", package: "iproute2"), ["netns", "exec", namespace, try nft(), "-f", file])
    }

    /// The local ports of the VM's QEMU's established NBD connections on `host`: a disk
    /// reopened over a fresh connection shows a new one.
    public static func nbdPorts(of vm: String, on host: String) throws(TetherError) -> [String] {
        let ss = try Executable.find("ss", package: "iproute2")
        let sockets = try run(try Executable.find("ip", package: "iproute2"),
                              ["netns", "exec", LabLayout.namespace(of: host), ss, "-tnpH", "state", "established", "( dport = :\(LabLayout.nbdPort) )"])
        let pid = try qemuPid(of: vm)
        // A line: "0 0 10.83.0.12:59666 10.83.0.1:10809 users:(("qemu-system-x86",pid=12475,fd=9))"
        return sockets.split(separator: "\n").filter { $0.contains("pid=\(pid),") }.compactMap { line -> String? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count > 2 ? fields[2].split(separator: ":").last.map(String.init) : nil
        }
    }

    public static func heal(on host: String) throws(TetherError) {
        _ = try run(try Executable.find("ip", package: "iproute2"), ["netns", "exec", LabLayout.namespace(of: host), try nft(), "delete", "table", "inet", table])
    }

    public static var isAvailable: Bool { (try? nft()) != nil }

    static func nft() throws(TetherError) -> String {
        if let found = try? Executable.find("nft", package: "nftables") { return found }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") else {
            throw TetherError(.notFound, "nft is not installed (apt-get install nftables)")
        }
        return "/usr/sbin/nft"
    }

    /// The QEMU whose command line names the VM (`-name vm`).
    static func qemuPid(of vm: String) throws(TetherError) -> Int32 {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
        for pid in pids {
            // Whole: QEMU's command line can run past the page Foundation would read of it.
            guard let data = ProcFile.bytes("/proc/\(pid)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.contains("qemu-system") == true else { continue }
            if let i = arguments.firstIndex(of: "-name"), i + 1 < arguments.count, arguments[i + 1] == vm { return pid }
        }
        throw TetherError(.notFound, "no QEMU process named \(vm)")
    }

    private static func run(_ tool: String, _ arguments: [String]) throws(TetherError) -> String {
        let result = try ChildProcess.run(tool, arguments)
        guard result.status == 0 else { throw TetherError(.io, "\(arguments.joined(separator: " ")): \(result.output)") }
        return result.output
    }
}
