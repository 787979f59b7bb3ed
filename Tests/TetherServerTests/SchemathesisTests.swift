import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport
@testable import TetherHTTP

/// schemathesis (from PyPI) fuzzes a real controller and a real agent from the API's OpenAPI
/// document, over mutual TLS: every answer must be no 5xx, in time, with a documented status,
/// content type and shape (errors in the API's JSON error shape). The controller is called
/// with an operator's certificate, the agent with the controller's (the only caller it serves).
@Suite(.serialized, .requires(ClusterHarness.canRun && Schemathesis.path != nil,
                              "root, iproute2, umockdev, QEMU, and schemathesis (`pip install schemathesis`, or TETHER_SCHEMATHESIS)"))
struct SchemathesisTests {
    @Test func theControllerAndAnAgentAnswerAsTheirDocumentSays() async throws {
        let cluster = try await ClusterHarness()
        defer { cluster.tearDown() }
        let pki = "\(cluster.directory)/pki"
        let issue = try await ProcessRunner.run(Tools.product("tether"), ["certs", "issue", "--dir", pki, "--name", "ops", "--role", "operator"])
        #expect(issue.status == 0, "\(issue.stderr)")
        let document = "\(cluster.directory)/openapi.json"
        try Data(OpenAPIDocument.json.utf8).write(to: URL(fileURLWithPath: document))
        // The controller from host-a's namespace, the agent of host-a from the controller's.
        for (role, namespace, url, identity) in [("controller", 1, "https://10.77.1.1:7400", "ops"),
                                                 ("agent", 0, "https://10.77.1.2:7401", "controller")] {
            let result = try await Schemathesis.run(document: document, url: url, tag: role, namespace: cluster.namespaces[namespace],
                                                    certificate: "\(pki)/\(identity).crt", key: "\(pki)/\(identity).key",
                                                    directory: cluster.directory)
            print("schemathesis on the \(role): exit \(result.status)\n\(result.stdout.suffix(1500))")
            #expect(result.status == 0, "schemathesis found what the \(role) answers against its document:\n\(result.stdout.suffix(12000))\(result.stderr.suffix(2000))")
        }
        // Whatever it sent, both daemons are still there.
        #expect(try await cluster.status().hosts.count == 2)
    }
}

enum Schemathesis {
    static var path: String? {
        if let given = ProcessInfo.processInfo.environment["TETHER_SCHEMATHESIS"], FileManager.default.isExecutableFile(atPath: given) { return given }
        return Tools.which("st") ?? Tools.which("schemathesis")
    }

    /// The checks that mean: no 5xx, a documented status, the documented content type and shape.
    static let checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

    static func run(document: String, url: String, tag: String, namespace: String, certificate: String, key: String,
                    directory: String) async throws -> ProcessResult {
        guard let st = path else { throw TetherError(.notFound, "no schemathesis") }
        // The stream never ends by itself; `wait` up to 30 s is a long poll, so requests get 40 s.
        let arguments = ["ip", "netns", "exec", namespace, "env", "HOME=\(directory)", "SCHEMATHESIS_HOOKS=",
                         st, "--no-color", "run", document, "--url", url, "--include-tag", tag, "--exclude-path", "/v1/events/stream",
                         "--request-cert", certificate, "--request-cert-key", key, "--tls-verify", "false",
                         "-c", checks, "--max-examples", "12", "--request-timeout", "40", "--phases", "examples,coverage,fuzzing",
                         "--generation-database", "none", "--seed", "20261204"]
        // It keeps its database and reports in the working directory.
        return try await ProcessRunner.run("/bin/sh", ["-c", "cd '\(directory)' && exec \"$@\"", "sh"] + ["/usr/bin/env"] + arguments,
                                           timeout: 900)
    }
}
