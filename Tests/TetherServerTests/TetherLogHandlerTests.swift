import Foundation
import Logging
import Synchronization
import Testing
@testable import TetherServer

/// tetherd's log lines read as swift-log's StreamLogHandler writes them (operators' scripts and
/// the lab's log checks read them), though the metadata is formatted only when a line is.
struct TetherLogHandlerTests {
    final class Lines: TextOutputStream, @unchecked Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func write(_ string: String) { lines.withLock { $0.append(string) } }
        func add(_ line: String) { write(line) }
    }

    struct Failure: Error, CustomStringConvertible { var description: String { "it broke" } }

    @Test func aLineReadsAsStreamLogHandlersButTheTime() throws {
        let ours = Lines(), theirs = Lines()
        let loggers = [
            Logger(label: "tetherd.controller") { TetherLogHandler(label: $0, sink: ours.add) },
            Logger(label: "tetherd.controller") { StreamLogHandler(label: $0, stream: theirs, metadataProvider: nil) },
        ]
        for var logger in loggers {
            logger[metadataKey: "hb.request.id"] = "42"
            logger[metadataKey: "a.first"] = "1"
            logger.info("plain")
            logger.notice("with its own", metadata: ["vm": "vm-a", "a.first": "2"])
            logger.error("failed", error: Failure())
            logger.debug("below the level: not written")
        }
        // Past the time: the first space.
        let strip = { (line: String) in String(line.drop { $0 != " " }) }
        #expect(ours.all.count == 3)
        #expect(ours.all.map(strip) == theirs.all.map(strip))
        #expect(strip(ours.all[1]) == " notice tetherd.controller: a.first=2 hb.request.id=42 vm=vm-a [TetherServerTests] with its own\n")
        let time = try #require(ours.all.first?.split(separator: " ").first)
        #expect(time.count == "2026-12-04T20:31:07+0000".count && time.contains("T"), "\(time)")
    }
}
