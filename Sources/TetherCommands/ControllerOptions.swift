import ArgumentParser
import Channel
import Foundation
import TetherClient
import TetherModel

/// How a command reaches the controller: its local socket (the default), or its mutual-TLS API
/// from another machine with a certificate from the cluster CA.
struct ControllerOptions: ParsableArguments {
    @Option(help: "The controller's local API socket (TETHER_SOCKET); several, comma-separated, for controllers on one machine.")
    var socket: String = ProcessInfo.processInfo.environment["TETHER_SOCKET"] ?? "/run/tether/tetherd.sock"
    @Option(help: "HOST:PORT[,HOST:PORT...] of the controllers' mutual-TLS API, instead of the socket; the leader is found.")
    var controller: String?
    @Option(help: "With --controller: the `tether certs` directory.") var tlsDir: String?
    @Option(help: "With --controller: this client's certificate name.") var name: String = "operator"

    func client() throws -> ControllerClient {
        guard let controller else {
            return ControllerClient(APIClient(servers: socket.split(separator: ",").map { .unixSocket(String($0)) }))
        }
        let addresses = try controller.split(separator: ",").map { text throws(TetherError) in try HostPort(text: String(text)) }
        guard !addresses.isEmpty else { throw TetherError(.invalidArgument, "--controller needs HOST:PORT") }
        guard let tlsDir else { throw TetherError(.invalidArgument, "--controller needs --tls-dir (and --name, default 'operator')") }
        return ControllerClient(APIClient(servers: addresses.map { .tls($0) }, identity: try TLSIdentity(directory: tlsDir, name: name)))
    }
}

/// Follows an operation to its end: each step as it is journaled, and a progress bar while a
/// migration runs (on a terminal; plain lines otherwise).
enum OperationFollower {
    static func follow(_ client: ControllerClient, _ id: String, timeout: Duration = .seconds(900)) async throws -> OperationRecord {
        let terminal = isatty(2) == 1
        var barShown = false
        return try await client.follow(id, until: .now + timeout, late: "\(id) is still running after \(timeout); follow it with `tether status`",
                                       refresh: .milliseconds(100), step: { step in
            if barShown { FileHandle.standardError.write(Data("\n".utf8)) }
            barShown = false
            print("  \(step.phase == .done ? "done" : "FAILED") \(step.step)" + (step.detail.map { ": \($0)" } ?? ""))
        }, running: { record in
            guard terminal, let progress = record.progress, progress.totalBytes > 0 else { return }
            FileHandle.standardError.write(Data(("\r" + bar(progress)).utf8))
            barShown = true
        })
    }

    /// `migrating [##########..........]  52%  66.5 of 128.0 MiB`
    static func bar(_ progress: MigrationReport, width: Int = 30) -> String {
        let fraction = min(1, Double(progress.transferredBytes) / Double(max(progress.totalBytes, 1)))
        let filled = Int(fraction * Double(width))
        let mib = { (bytes: Int64) in String(format: "%.1f", Double(bytes) / 1_048_576) }
        return "migrating [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(format: "%3d%%", Int(fraction * 100)) + "  \(mib(progress.transferredBytes)) of \(mib(progress.totalBytes)) MiB"
    }
}
