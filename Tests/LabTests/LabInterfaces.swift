import Foundation
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport

/// What a lab host's kernel says about its interfaces and sockets, read from outside Tether.
enum LabInterfaces {
    /// Bytes sent on an interface of the host's namespace (`ip -s -j link`).
    static func txBytes(_ host: String, _ interface: String) async throws -> Int {
        let out = try await run(["ip", "-n", LabLayout.namespace(of: host), "-s", "-j", "link", "show", "dev", interface])
        guard let links = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]],
              let stats = links.first?["stats64"] as? [String: Any], let tx = stats["tx"] as? [String: Any],
              let bytes = tx["bytes"] as? Int else {
            throw TetherError(.io, "no byte count for \(interface) of \(host) in: \(out)")
        }
        return bytes
    }

    /// The TCP ports listened on at `address` in the host's namespace.
    static func listeners(_ host: String, on address: String) async throws -> [Int] {
        let out = try await run(["ip", "netns", "exec", LabLayout.namespace(of: host), "ss", "-ltnH"])
        return out.split(separator: "\n").compactMap { line -> Int? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3].hasPrefix("\(address):") else { return nil }
            return fields[3].split(separator: ":").last.flatMap { Int($0) }
        }.sorted()
    }

    private static func run(_ arguments: [String]) async throws -> String {
        let result = try await ProcessRunner.run("/usr/bin/env", arguments, timeout: 20)
        guard result.status == 0 else { throw TetherError(.io, "\(arguments.joined(separator: " ")): \(result.stderr)") }
        return result.stdout
    }
}
