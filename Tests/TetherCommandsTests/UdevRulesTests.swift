import Foundation
import Testing
import TetherModel
import TetherSystem
import TetherTestSupport

/// udev/70-tether.rules: every rule parses as udev reads it, matches USB devices only, and the
/// command each runs reaches a listening agent at once, and returns at once when none listens.
struct UdevRulesTests {
    static let rulesFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("udev/70-tether.rules")

    struct Rule {
        var matches: [String: String] = [:]
        var run: [String] = []
    }

    /// udev's grammar: comma-separated `KEY op "value"`, op one of == != = += -= :=.
    static func parse(_ line: String) throws -> Rule {
        var rule = Rule()
        let pattern = try NSRegularExpression(pattern: #"^\s*([A-Za-z_]+(?:\{[^}]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)"#)
        var rest = Substring(line)
        while !rest.trimmingCharacters(in: .whitespaces).isEmpty {
            let text = String(rest)
            guard let match = pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                  let key = Range(match.range(at: 1), in: text), let op = Range(match.range(at: 2), in: text),
                  let value = Range(match.range(at: 3), in: text), let whole = Range(match.range, in: text) else {
                throw TetherError(.invalidArgument, "not a udev key at: \(text)")
            }
            switch (String(text[key]), String(text[op])) {
            case ("RUN", "+="): rule.run.append(String(text[value]))
            case (let k, "=="): rule.matches[k] = String(text[value])
            case (let k, let o): throw TetherError(.invalidArgument, "unexpected \(k)\(o) in \(line)")
            }
            rest = text[whole.upperBound...]
        }
        return rule
    }

    static func rules() throws -> [Rule] {
        try String(contentsOf: rulesFile, encoding: .utf8).split(separator: "\n")
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }
            .map { try parse(String($0)) }
    }

    @Test func everyRuleParsesAndMatchesUSBDevicesOnly() throws {
        let rules = try Self.rules()
        #expect(rules.count == 2)
        #expect(Set(rules.compactMap { $0.matches["ACTION"] }) == ["add", "remove"])
        for rule in rules {
            #expect(rule.matches["SUBSYSTEM"] == "usb")
            #expect(rule.matches["ENV{DEVTYPE}"] == "usb_device", "interfaces are not devices")
            #expect(rule.run.count == 1)
            #expect(rule.run[0].hasPrefix("/usr/local/bin/tether notify-agent "))
        }
    }

    @Test func eachRulesCommandTellsAListeningAgentAndNeverWaitsForAMissingOne() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("events.sock").path
        let fd = try AgentEvents.bind(socket)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        for rule in try Self.rules() {
            // udev substitutes $devpath; the command is the installed tether, here the built one.
            let words = rule.run[0].replacingOccurrences(of: "$devpath", with: "/devices/pci0000:00/0000:00:14.0/usb1/1-4")
                .split(separator: " ").map(String.init)
            let result = try await ProcessRunner.run(Tools.product("tether"), Array(words.dropFirst()) + ["--socket", socket], timeout: 10)
            #expect(result.status == 0, "\(result.stderr)")
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            #expect(n > 0, "the agent was told")
            #expect(String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "\(rule.matches["ACTION"] ?? "?") /devices/pci0000:00/0000:00:14.0/usb1/1-4")
            let nobody = try await ProcessRunner.run(Tools.product("tether"), Array(words.dropFirst()) + ["--socket", directory.appendingPathComponent("none.sock").path],
                                               timeout: 10)
            #expect(nobody.status == 0 && !nobody.timedOut, "no agent: nothing to tell, and no error for udev")
        }
    }
}
