import Foundation
import TetherModel
import TetherTestSupport

/// A busybox container bundle for real `runc run`: the rootfs is busybox and its applets, the
/// configuration `runc spec`'s, with the process, annotations and hooks a test asks for.
struct RuncBundle {
    static var canRun: Bool {
        getuid() == 0 && Tools.which("runc") != nil && busybox != nil && Tools.which("nsenter") != nil
    }

    static var busybox: String? { ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) } }

    let directory: String

    init(command: String, annotations: [String: String] = [:], hooks: [String: [[String]]] = [:]) async throws {
        directory = try Fixtures.temporaryDirectory().path
        let bin = "\(directory)/rootfs/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.busybox ?? "/bin/busybox", toPath: "\(bin)/busybox")
        for applet in ["sh", "ls", "test", "echo", "cat"] { try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(applet)", withDestinationPath: "busybox") }
        let spec = try await ProcessRunner.run(Tools.which("runc") ?? "runc", ["spec", "--bundle", directory])
        guard spec.status == 0 else { throw TetherError(.io, "runc spec: \(spec.stderr)") }
        let path = "\(directory)/config.json"
        guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
              var process = config["process"] as? [String: Any] else { throw TetherError(.io, "runc spec wrote no process") }
        process["terminal"] = false
        process["args"] = ["sh", "-c", command]
        config["process"] = process
        config["annotations"] = annotations
        var hookConfig: [String: Any] = [:]
        for (stage, entries) in hooks {
            hookConfig[stage] = entries.map { ["path": $0[0], "args": $0] as [String: Any] }
        }
        config["hooks"] = hookConfig
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path))
    }

    /// `runc run` to the end, as the container named `id`.
    func run(_ id: String, timeout: TimeInterval = 90) async throws -> ProcessResult {
        try await ProcessRunner.run(Tools.which("runc") ?? "runc", ["run", "--bundle", directory, id], timeout: timeout)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
