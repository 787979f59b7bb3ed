import Foundation
import Testing
import TetherTestSupport

/// `tether certs` and `tether channel serve|connect` as operators run them: real processes, real
/// TLS, stopped with SIGTERM, reporting what they carried.
struct ChannelCommandTests {
    func tether(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run(Tools.product("tether"), arguments, timeout: 60)
    }

    @Test func certsAreMadeAndABadNameIsRefused() async throws {
        let dir = try Fixtures.temporaryDirectory().path
        #expect(try await tether(["certs", "init", "--dir", dir]).status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/ca.crt"))
        let key = try FileManager.default.attributesOfItem(atPath: "\(dir)/ca.key")[.posixPermissions] as? Int
        #expect(key == 0o600, "the CA key is readable by its owner only")
        let again = try await tether(["certs", "init", "--dir", dir])
        #expect(again.status == 1)
        #expect(again.stderr.contains("exists already"))
        #expect(try await tether(["certs", "issue", "--dir", dir, "--name", "host-a"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(dir)/host-a.crt"))
        let bad = try await tether(["certs", "issue", "--dir", dir, "--name", "a b"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("may hold only letters"))
        let noCA = try await tether(["certs", "issue", "--dir", try Fixtures.temporaryDirectory().path, "--name", "x"])
        #expect(noCA.stderr.contains("run `tether certs init"))
    }

    @Test func serveAndConnectCarryAStreamAndReportItsRate() async throws {
        let dir = try Fixtures.temporaryDirectory().path
        for arguments in [["certs", "init", "--dir", dir], ["certs", "issue", "--dir", dir, "--name", "dev"],
                          ["certs", "issue", "--dir", dir, "--name", "vm"]] {
            #expect(try await tether(arguments).status == 0)
        }
        let size = 8 << 20
        let target = try StreamServer(sendBytes: size, seed: 4)
        let servePort = try QEMUTestbed.freePort(), connectPort = try QEMUTestbed.freePort()
        let serve = try await BackgroundProcess(Tools.product("tether"), ["channel", "serve", "--listen", "127.0.0.1:\(servePort)",
            "--forward-to", "127.0.0.1:\(target.port)", "--tls-dir", dir, "--name", "dev", "--allow", "vm", "--report-seconds", "1"])
        let connect = try await BackgroundProcess(Tools.product("tether"), ["channel", "connect", "--listen", "127.0.0.1:\(connectPort)",
            "--to", "127.0.0.1:\(servePort)", "--tls-dir", dir, "--name", "vm", "--allow", "dev", "--report-seconds", "1"])
        #expect(serve.waitForOutput("serving on"), "\(serve.output)")
        #expect(connect.waitForOutput("connecting on"), "\(connect.output)")

        let fd = try #require(StreamPeer.connect(port: connectPort))
        let mine = try #require(StreamPeer(socket: fd, sendBytes: size, seed: 3).wait(timeout: 60))
        let theirs = try #require(target.accepted.first?.wait(timeout: 30))
        #expect(theirs.receivedDigest == mine.sentDigest, "VM to device: \(theirs.receivedBytes) of \(size) bytes")
        #expect(mine.receivedDigest == theirs.sentDigest, "device to VM: \(mine.receivedBytes) of \(size) bytes")
        #expect(serve.waitForOutput("rate: to-vm"), "it logs the rate at its interval")

        serve.terminate()
        connect.terminate()
        #expect(await serve.waitForExit(timeout: 10) == 0, "SIGTERM is a clean stop")
        #expect(await connect.waitForExit(timeout: 10) == 0)
        #expect(serve.output.contains("stopping on signal 15; rate: to-vm"), "\(serve.output)")
        #expect(serve.output.contains("(8.39 MB)"), "the totals it reports on exit: \(serve.output)")
    }

    @Test func aMissingCertificateIsOneClearLine() async throws {
        let result = try await tether(["channel", "serve", "--listen", "127.0.0.1:0", "--forward-to", "127.0.0.1:1",
                                 "--tls-dir", "/nonexistent", "--name", "dev"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: no certificate 'dev'"))
    }

    @Test func aBadEndpointIsAUsageError() async throws {
        let result = try await tether(["channel", "connect", "--listen", "nowhere", "--to", "127.0.0.1:1", "--tls-dir", "/x", "--name", "vm"])
        #expect(result.status == 64)
    }
}
