import Foundation
import Testing
import TetherSystem
import USBRedirReplay
@testable import Agent

/// The agent knows its exporter serves by reading the kernel's socket table, and a host has
/// more sockets than fit in the page Foundation reads of a proc file. CI caught it: an export
/// failed with "did not listen" while the exporter listened, its socket past the first 26.
struct LocalPortsTests {
    /// Listeners on the loopback, enough that /proc/net/tcp runs to many pages.
    final class Listeners {
        let descriptors: [Int32]
        let ports: [Int]
        init(count: Int) throws {
            var descriptors: [Int32] = [], ports: [Int] = []
            for _ in 0..<count {
                let (fd, port) = try LoopbackListener.open()
                descriptors.append(fd)
                ports.append(port)
            }
            self.descriptors = descriptors
            self.ports = ports
        }
        deinit { descriptors.forEach { close($0) } }
    }

    @Test func everyListenerIsSeenHoweverManySocketsTheHostHas() throws {
        let listeners = try Listeners(count: 300)
        let table = try #require(ProcFile.text("/proc/net/tcp"))
        #expect(table.utf8.count > 300 * 100, "the whole table, not its first page: \(table.utf8.count) bytes")
        let unseen = listeners.ports.filter { !LocalPorts.isListening($0) }
        #expect(unseen.count == 0, "listeners not seen, e.g. port \(unseen.first ?? 0)")
    }

    @Test func aPortNobodyListensOnIsNotListening() throws {
        let port = try LocalPorts.free()
        #expect(!LocalPorts.isListening(port))
        let (fd, _) = try LoopbackListener.open(port: port)
        defer { close(fd) }
        #expect(LocalPorts.isListening(port))
    }

    @Test func aProcFileThatIsGoneIsNil() {
        #expect(ProcFile.text("/proc/\(Int32.max)/status") == nil)
        #expect(ProcFile.bytes("/proc/self/cmdline").map { !$0.isEmpty } == true)
    }
}
