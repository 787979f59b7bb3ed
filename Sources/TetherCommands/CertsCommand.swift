import ArgumentParser
import Channel
import Foundation
import TetherModel

/// `tether certs`: the cluster CA and the certificates channels present.
public struct CertsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "certs", abstract: "Make the cluster CA and per-host certificates for mutual TLS.",
        subcommands: [Init.self, Issue.self])

    public init() {}

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write DIR/ca.crt and DIR/ca.key (P-256).")
        @Option(help: "The directory.") var dir: String

        func run() throws {
            try FailureReporting.run { print("wrote \(try ClusterCA.initialize(in: dir)) and \(dir)/ca.key (keep it secret)") }
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write DIR/NAME.crt and DIR/NAME.key, signed by the CA in DIR.")
        @Option(help: "The directory holding the CA.") var dir: String
        @Option(help: "The certificate's name: what peers' --allow lists match.") var name: String
        @Option(help: "Days it is valid.") var days = 825
        @Option(help: "What the holder may call on the controller's API: operator (attach, detach, read), viewer (read), agent (a host's agent; the default for a certificate without a role).")
        var role: CallerRole?

        func validate() throws {
            if days < 1 { throw ValidationError("--days must be at least 1") }
        }

        func run() throws {
            try FailureReporting.run {
                let path = try ClusterCA.issue(name: name, role: role, in: dir, notAfter: Date().addingTimeInterval(Double(days) * 86400))
                print("wrote \(path) and \(dir)/\(name).key, valid \(days) days" + (role.map { ", role \($0.rawValue)" } ?? ""))
            }
        }
    }
}

extension CallerRole: ExpressibleByArgument {}
