import ArgumentParser
import Foundation
import Placement
import TetherModel

/// `tether plan`: the placement engine on a cluster file. Changes nothing.
public struct PlanCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Decide an attach or a failover on a cluster file, and explain why (changes nothing).",
        discussion: """
            Exit status: 0 with a decision (reject and unplaced VMs included), 2 when the cluster \
            file does not validate or the question names something the cluster does not have.
            """
    )

    @Option(help: "The cluster file (YAML or JSON; see shared/spec/placement.md).")
    var cluster: String

    @Option(help: ArgumentHelp("A container needs a device: CONTAINER=HOST/DEVICE_ID.", valueName: "container=host/device"))
    var attach: String?

    @Option(help: ArgumentHelp("Something failed: HOST, HOST:FAULT[,FAULT...] (management, migration, vm, storage), VM:io-paths or VM:crash.",
                               valueName: "target[:faults]"))
    var fail: String?

    @Flag(help: "Print JSON (shared/spec/placement.md) instead of an explanation.")
    var json = false

    public init() {}

    public func validate() throws {
        guard (attach == nil) != (fail == nil) else {
            throw ValidationError("give exactly one of --attach CONTAINER=HOST/DEVICE_ID or --fail TARGET[:FAULTS]")
        }
    }

    public func run() throws {
        try FailureReporting.run(exitStatus: ClusterFileError.exitStatus) {
            let index = ClusterIndex(try loadCluster())
            if let attach {
                let (container, device) = try Self.parseAttach(attach)
                let decision = try AttachPlanner.decide(container: container, device: device, index)
                print(json ? try PlanOutput.json(decision) : PlanText.render(decision), terminator: json ? "\n" : "")
            } else if let fail {
                let failure = try Failure.parse(fail, index)
                let plan = try FailoverPlanner.plan(failure, index)
                print(json ? try PlanOutput.json(plan) : PlanText.render(plan, failure: failure), terminator: json ? "\n" : "")
            }
        }
    }

    func loadCluster() throws -> Cluster {
        guard let data = FileManager.default.contents(atPath: cluster) else {
            throw TetherError(.notFound, "cannot read the cluster file \(cluster)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TetherError(.invalidArgument, "\(cluster) is not UTF-8 text")
        }
        return try ClusterFile.decode(text, name: cluster)
    }

    static func parseAttach(_ text: String) throws(TetherError) -> (String, DeviceRef) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, let device = DeviceRef(parts[1]) else {
            throw TetherError(.invalidArgument, "--attach \(text): write CONTAINER=HOST/DEVICE_ID, like cam-1=host-b/1-3")
        }
        return (parts[0], device)
    }
}

enum PlanOutput {
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
