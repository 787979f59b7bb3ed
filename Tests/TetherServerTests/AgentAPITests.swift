import Channel
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import TetherModel
import TetherSystem
@testable import Agent
import TetherHTTP
import TetherTestSupport

/// The agent's API in-process: every endpoint answers bad input with a 4xx and a JSON error, and
/// what is already done (or was never there) is not an error for the actions that undo.
struct AgentAPITests {
    static func agent(in pki: String? = nil, imageDirectories: [String]? = nil, ownImageFiles: [String] = []) throws -> HostAgentService {
        let pki = try pki ?? Fixtures.temporaryDirectory().path
        if !FileManager.default.fileExists(atPath: "\(pki)/ca.key") {   // a second agent in the same folder shares the first's
            _ = try ClusterCA.initialize(in: pki)
            _ = try ClusterCA.issue(name: "host-b", in: pki)
        }
        var settings = AgentSettings(host: "host-b", listen: HostPort(host: "127.0.0.1", port: 7401), publicAddress: "127.0.0.1", cpus: 2,
                                     memoryMiB: 1024, networks: [:], datastores: [], stateDirectory: "\(pki)/vms", vms: [])
        settings.imageDirectories = imageDirectories
        settings.ownImageFiles = ownImageFiles
        return HostAgentService(settings: settings, identity: try TLSIdentity(directory: pki, name: "host-b"), logger: Logger(label: "test")) {
            [ClusterFixtures.dongle]
        }
    }

    @Test(arguments: [
        BadRequest(name: "state of a VM not here", method: .get, uri: "/v1/agent/vms/vm-z", body: nil, status: 404, says: "host-b does not run vm-z"),
        BadRequest(name: "incoming: not JSON", method: .post, uri: "/v1/agent/incoming", body: "launch", status: 400, says: "not valid JSON"),
        BadRequest(name: "incoming: no launch", method: .post, uri: "/v1/agent/incoming", body: "{}", status: 400, says: "'launch' is missing"),
        BadRequest(name: "migrate a VM not here", method: .post, uri: "/v1/agent/migrations", body: "{\"vm\": \"vm-z\", \"to\": \"10.0.0.1:4444\"}",
                   status: 404, says: "host-b does not run vm-z"),
        BadRequest(name: "migrate to no address", method: .post, uri: "/v1/agent/migrations", body: "{\"vm\": \"vm-z\", \"to\": \"nowhere\"}",
                   status: 400, says: "'to': 'nowhere' is not HOST:PORT"),
        BadRequest(name: "release: no vm", method: .post, uri: "/v1/agent/vms/release", body: "{}", status: 400, says: "'vm' is missing"),
        BadRequest(name: "export a device not plugged in", method: .post, uri: "/v1/agent/exports",
                   body: "{\"session\": \"vm-a/host-b/9-9\", \"device\": \"9-9\", \"local\": false, \"allow\": [\"host-a\"]}",
                   status: 404, says: "host-b has no device 9-9 plugged in"),
        BadRequest(name: "export: wrong type", method: .post, uri: "/v1/agent/exports",
                   body: "{\"session\": \"s\", \"device\": \"1-4\", \"local\": \"no\", \"allow\": []}", status: 400, says: "'local' must be true or false"),
        BadRequest(name: "stop export: no session", method: .post, uri: "/v1/agent/exports/stop", body: "{}", status: 400, says: "'session' is missing"),
        BadRequest(name: "channel into a VM not here", method: .post, uri: "/v1/agent/channels",
                   body: "{\"session\": \"s\", \"vm\": \"vm-z\", \"from\": \"10.0.0.2:7000\", \"deviceHost\": \"host-b\", \"local\": false}",
                   status: 404, says: "host-b does not run vm-z"),
        BadRequest(name: "close channel: not JSON", method: .post, uri: "/v1/agent/channels/stop", body: "[", status: 400, says: "not valid JSON"),
        BadRequest(name: "no such endpoint", method: .post, uri: "/v1/agent/reboot", body: "{}", status: 404, says: "no endpoint POST /v1/agent/reboot"),
    ])
    func badRequestsGetAClearFourHundred(_ bad: BadRequest) async throws {
        let agent = try Self.agent()
        _ = await agent.refreshDevices()
        try await Application(router: AgentRoutes.router(agent, callers: ["controller"])).test(.router) { client in
            try await bad.send(client)
        }
    }

    /// A launch comes from the network: its files must be where the host keeps images, links
    /// followed, and it must fit the host; each refusal is the request's fault and says why.
    @Test func aLaunchIsCheckedAgainstTheHostBeforeQEMUIsStarted() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        let images = "\(directory)/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try Data(count: 4096).write(to: URL(fileURLWithPath: "\(images)/pattern.bin"))
        try FileManager.default.createSymbolicLink(atPath: "\(images)/sneaky.bin", withDestinationPath: "/etc/passwd")
        let agent = try Self.agent(in: directory, imageDirectories: [images])
        func incoming(memoryMiB: Int = 64, image: String) -> String {
            "{\"launch\": {\"name\": \"vm-a\", \"memoryMiB\": \(memoryMiB), \"cpus\": 1, \"usbController\": false, \"panicDevice\": false, "
                + "\"memoryImages\": [{\"path\": \"\(image)\", \"address\": 1048576}]}, \"channels\": []}"
        }
        let refusals = [
            BadRequest(name: "outside", method: .post, uri: "/v1/agent/incoming", body: incoming(image: "/etc/passwd"), status: 403,
                       says: "/etc/passwd (for vm-a) is outside host-b's image directories (\(images))"),
            BadRequest(name: "linked out", method: .post, uri: "/v1/agent/incoming", body: incoming(image: "\(images)/sneaky.bin"), status: 403,
                       says: "is outside host-b's image directories"),
            BadRequest(name: "dot-dot", method: .post, uri: "/v1/agent/incoming", body: incoming(image: "\(images)/../../../etc/passwd"), status: 403,
                       says: "is outside host-b's image directories"),
            BadRequest(name: "missing", method: .post, uri: "/v1/agent/incoming", body: incoming(image: "\(images)/none.bin"), status: 404,
                       says: "host-b has no file \(images)/none.bin for vm-a"),
            BadRequest(name: "too big", method: .post, uri: "/v1/agent/incoming", body: incoming(memoryMiB: 2048, image: "\(images)/pattern.bin"),
                       status: 422, says: "vm-a needs 2048 MiB; host-b has 1024"),
        ]
        try await Application(router: AgentRoutes.router(agent, callers: ["controller"])).test(.router) { client in
            for refusal in refusals { try await refusal.send(client) }
        }
        let fits = try JSONDecoder().decode(IncomingRequest.self, from: Data(incoming(image: "\(images)/pattern.bin").utf8)).launch
        try await agent.checkLaunchable(fits)

        // This host's own VM's file is allowed by its exact path; the file beside it is not.
        try Data(count: 4096).write(to: URL(fileURLWithPath: "\(directory)/own.bin"))
        try Data(count: 4096).write(to: URL(fileURLWithPath: "\(directory)/beside.bin"))
        let own = try Self.agent(in: directory, imageDirectories: [images], ownImageFiles: ["\(directory)/own.bin"])
        let decode = { (path: String) in try JSONDecoder().decode(IncomingRequest.self, from: Data(incoming(image: path).utf8)).launch }
        try await own.checkLaunchable(decode("\(directory)/own.bin"))
        await #expect(throws: TetherError.self) { try await own.checkLaunchable(decode("\(directory)/beside.bin")) }
        // No directory at all: only the host's own files.
        let none = try Self.agent(in: directory, imageDirectories: [], ownImageFiles: ["\(directory)/own.bin"])
        await #expect(throws: TetherError.self) { try await none.checkLaunchable(decode("\(images)/pattern.bin")) }
    }

    @Test func undoingWhatIsNotThereIsNotAnError() async throws {
        let agent = try Self.agent()
        try await Application(router: AgentRoutes.router(agent, callers: ["controller"])).test(.router) { client in
            for (uri, body) in [("/v1/agent/vms/release", "{\"vm\": \"vm-z\"}"), ("/v1/agent/vms/abandon", "{\"vm\": \"vm-z\"}"),
                                ("/v1/agent/exports/stop", "{\"session\": \"s\"}"), ("/v1/agent/channels/stop", "{\"session\": \"s\"}")] {
                try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .noContent, "\(uri)")
                }
            }
        }
    }
}

/// A starting agent stops the exporters a killed predecessor started and left running, and only
/// those: an exporter it never started (an operator's, a systemd service) is left alone, even when
/// it too has init as its parent.
struct OrphanedExportersTests {
    /// Starts the fake exporter in the background of a shell that exits at once: an orphan,
    /// re-parented to init, as a killed agent's exporter is. Answers its pid.
    static func orphan(_ exporter: String, device: String, port: Int) throws -> Int32 {
        let result = try ChildProcess.run("/bin/sh", ["-c", "\(exporter) --device \(device) --as 127.0.0.1:\(port) >/dev/null 2>&1 & echo $!"])
        return try #require(Int32(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func aStartingAgentStopsTheExportersItsPredecessorStartedAndNoOthers() throws {
        let directory = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let exporter = "\(directory)/fake-usbredirect"
        try "#!/bin/sh\nwhile true; do sleep 1; done\n".write(toFile: exporter, atomically: true, encoding: .utf8)
        chmod(exporter, 0o755)
        defer { _ = try? ChildProcess.run("/usr/bin/env", ["pkill", "-9", "-f", directory]) }
        let record = ExporterRecord(directory: directory)
        // The predecessor's: recorded as it started, then orphaned when that agent was killed.
        let leftover = try Self.orphan(exporter, device: "1-5", port: 4000)
        record.note(leftover)
        // Someone else's, with the same program and the same kind of command line.
        let foreign = try Self.orphan(exporter, device: "1-6", port: 4001)
        // A recorded one that has exited since: its pid must not be signalled.
        let gone = try Self.orphan("/bin/true", device: "1-7", port: 4002)
        record.note(gone)
        // Exited for sure: on a loaded machine /bin/true can still be starting here.
        for _ in 0..<100 where ProcessStat(pid: gone)?.isAlive ?? false { usleep(20_000) }

        #expect(ExporterRecord(directory: directory).stopLeftovers(logger: Logger(label: "test")) == [leftover])
        for _ in 0..<50 where kill(leftover, 0) == 0 && !Self.isZombie(leftover) { usleep(50_000) }
        #expect(kill(leftover, 0) != 0 || Self.isZombie(leftover), "the predecessor's exporter was stopped")
        #expect(kill(foreign, 0) == 0 && !Self.isZombie(foreign), "an exporter this agent never started runs on")
        #expect(ExporterRecord(directory: directory).stopLeftovers(logger: Logger(label: "test")).isEmpty, "the record was cleared")
    }

    static func isZombie(_ pid: Int32) -> Bool {
        ProcessStat(pid: pid)?.state == "Z"
    }
}
