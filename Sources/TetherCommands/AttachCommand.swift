import ArgumentParser
import Foundation
import TetherClient
import TetherModel

/// `tether attach`: ask the controller to give a container's VM a device; show the decision and
/// why, follow the operation to its end.
struct AttachCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Give a container the device it needs: migrate its VM to the device, or forward the device to it.")

    @Option(help: "The container that needs the device.") var container: String
    @Option(help: "VID:PID, VID:PID:SERIAL, or HOST/PORT.") var device: String
    @Option(help: "The container's VM, when the controller does not know the container yet.") var vm: String?
    @Flag(help: "Decide and explain, change nothing.") var dryRun = false
    @Flag(help: "Print the answer as JSON.") var json = false
    @OptionGroup var controller: ControllerOptions

    func run() async throws {
        try await FailureReporting.run {
            let selector = try DeviceSelector(parsing: device)
            let client = try controller.client()
            defer { Task { await client.api.close() } }
            let response = try await client.attach(AttachRequest(container: container, device: selector, vm: vm, dryRun: dryRun))
            if !json { print(PlanText.render(response.decision), terminator: "") }
            guard let operation = response.operation else {
                if json { try printJSON(response) }
                if response.decision.action == .reject { throw ExitCode(1) }
                return
            }
            if !json { print("\(operation.id): started") }
            let finished = try await OperationFollower.follow(client, operation.id)
            if json { try printJSON(AttachResponse(decision: response.decision, operation: finished)) }
            try report(finished)
        }
    }

    func report(_ finished: OperationRecord) throws {
        let seconds = finished.updated.timeIntervalSince(finished.created)
        switch finished.state {
        case .completed:
            if !json, let a = finished.attachment { print("attached \(a.device) to \(a.vm) on \(a.vmHost) (\(finished.id), \(String(format: "%.1f", seconds)) s)") }
        default:
            throw TetherError(.io, "\(finished.id) \(finished.state.rawValue): \(finished.error ?? "no reason given")")
        }
    }
}

/// `tether detach`: take a container's devices back (one, or all of them).
struct DetachCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detach", abstract: "Take a container's device (or all of them) back.")

    @Option(help: "The container.") var container: String
    @Option(help: "Only this device: VID:PID, VID:PID:SERIAL or HOST/PORT.") var device: String?
    @OptionGroup var controller: ControllerOptions

    func run() async throws {
        try await FailureReporting.run {
            let selector = try device.map { (text: String) throws(TetherError) in try DeviceSelector(parsing: text) }
            let client = try controller.client()
            defer { Task { await client.api.close() } }
            let reply = try await client.detach(DetachRequest(container: container, device: selector))
            var failed: [String] = []
            for operation in reply.operations {
                let finished = try await OperationFollower.follow(client, operation.id)
                if finished.state == .completed {
                    print("detached \(finished.subject) from \(finished.vm) (\(finished.id))")
                } else {
                    failed.append("\(finished.id) \(finished.state.rawValue): \(finished.error ?? "no reason given")")
                }
            }
            if !failed.isEmpty { throw TetherError(.io, failed.joined(separator: "; ")) }
        }
    }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = APIJSON.encoder()
    encoder.outputFormatting.insert(.prettyPrinted)
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
