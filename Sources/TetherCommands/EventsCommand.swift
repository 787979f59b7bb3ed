import ArgumentParser
import Foundation
import TetherClient
import TetherModel

/// `tether events`: the controller's events (health changes, operations and their steps), as
/// they are now, or followed as they come.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events",
                                                    abstract: "Health changes and operation steps, as they happen.")

    @Flag(help: "Keep printing events as they come, until interrupted.") var follow = false
    @Flag(help: "One JSON object per line.") var json = false
    @Option(help: "Only the events after this sequence number.") var after = 0
    @OptionGroup var controller: ControllerOptions

    func run() async throws {
        try await FailureReporting.run {
            let client = try controller.client()
            defer { Task { await client.api.close() } }
            var next = after
            repeat {
                let page = try await client.events(after: next, wait: follow ? .seconds(10) : .zero)
                for event in page.events { try emit(event) }
                next = page.next
            } while follow && !Task.isCancelled
        }
    }

    private func emit(_ event: ClusterEvent) throws {
        if json {
            let encoder = APIJSON.encoder()
            write(String(decoding: try encoder.encode(event), as: UTF8.self))
        } else {
            write(EventText.line(event))
        }
    }

    /// Flushed, so that `--follow` piped into another program shows each event as it comes.
    private func write(_ line: String) {
        print(line)
        fflush(nil)
    }
}

enum EventText {
    static func line(_ e: ClusterEvent) -> String {
        let time = e.at.formatted(.iso8601.time(includingFractionalSeconds: false))
        let change = (e.from.map { "\($0) -> " } ?? "") + e.to
        let host = e.host.map { "\($0) " } ?? ""
        let detection = e.detectionSeconds.map { String(format: "  (detected after %.2f s)", $0) } ?? ""
        let detail = e.detail.isEmpty ? "" : ": " + e.detail.joined(separator: "; ")
        return "\(time) #\(e.sequence) \(e.kind.rawValue) \(host)\(e.subject) \(change)\(detection)\(detail)"
    }
}
