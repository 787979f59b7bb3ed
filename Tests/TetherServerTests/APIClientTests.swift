import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import Testing
@testable import TetherClient
import TetherModel

/// The API client's own HTTP/1.1: kept connections, and every way a server can fail it. Each
/// server here is scripted byte for byte (`ScriptedHTTPServer`); the client against tetherd
/// itself is what every other suite of this target uses.
@Suite struct APIClientTests {
    struct Said: Codable, Equatable { var line: String }

    static func said(_ line: String) -> String { #"{"line":"\#(line)"}"# }

    /// Answers every request on a connection with its own request line, until the client closes.
    static func answerAll(_ connection: ScriptedHTTPServer.Connection, _: Int) {
        while let line = connection.readRequest() { connection.answer(said(line)) }
        connection.close()
    }

    /// Reads a request, says nothing for `seconds`, then closes.
    static func silent(_ seconds: Double) -> @Sendable (ScriptedHTTPServer.Connection, Int) -> Void {
        { connection, _ in
            _ = connection.readRequest()
            Thread.sleep(forTimeInterval: seconds)
            connection.close()
        }
    }

    @Test func aKeptConnectionCarriesTheNextRequests() async throws {
        let server = try ScriptedHTTPServer(serve: Self.answerAll)
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        for i in 0..<5 {
            #expect(try await api.get("/v1/n/\(i)", as: Said.self) == Said(line: "GET /v1/n/\(i) HTTP/1.1"))
        }
        _ = try await api.post("/v1/posted", Said(line: "x"), as: Said.self)
        #expect(server.accepted == 1, "one connection for six requests one after another")
        #expect(server.requests.count == 6)
        await api.close()
    }

    @Test func aConnectionIdleLongerThanItsTimeoutIsClosedAndTheNextRequestOpensOne() async throws {
        let ended = Mutex(0)
        let server = try ScriptedHTTPServer { connection, number in
            Self.answerAll(connection, number)
            ended.withLock { $0 += 1 }
        }
        defer { server.stop() }
        let api = APIClient(servers: [.unixSocket(server.path)], idleTimeout: .milliseconds(200))
        #expect(try await api.get("/v1/a", as: Said.self).line == "GET /v1/a HTTP/1.1")
        for _ in 0..<100 where ended.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(ended.withLock { $0 } == 1, "the client closed its idle connection")
        #expect(try await api.get("/v1/b", as: Said.self).line == "GET /v1/b HTTP/1.1")
        #expect(server.accepted == 2)
        await api.close()
    }

    @Test func concurrentRequestsEachGetTheirOwnAnswer() async throws {
        let server = try ScriptedHTTPServer(serve: Self.answerAll)
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for i in 0..<50 {
                        let reply = try await api.get("/v1/t/\(task)/\(i)", as: Said.self)
                        #expect(reply.line == "GET /v1/t/\(task)/\(i) HTTP/1.1")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(server.requests.count == 400)
        #expect(server.accepted <= 8, "connections are kept and shared: \(server.accepted) for 8 concurrent askers")
        await api.close()
    }

    /// A kept connection that ends under a written request: the server closed it (a restart,
    /// a failover) as the request went out, or read the request and died; the client cannot
    /// tell which. A GET goes again on a new connection; a POST, which may have been acted on,
    /// does not, and says why.
    @Test func aKeptConnectionClosedUnderARequestResendsAGetButNeverAPost() async throws {
        let server = try ScriptedHTTPServer { connection, number in
            if number == 1 || number == 3 {
                if let line = connection.readRequest() { connection.answer(Self.said(line)) }
                _ = connection.readRequest()   // the second request: read, and closed unanswered
                connection.close()
            } else {
                Self.answerAll(connection, number)
            }
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        #expect(try await api.get("/v1/first", as: Said.self).line == "GET /v1/first HTTP/1.1")
        #expect(try await api.get("/v1/second", as: Said.self).line == "GET /v1/second HTTP/1.1")
        #expect(server.requests == ["GET /v1/first HTTP/1.1", "GET /v1/second HTTP/1.1", "GET /v1/second HTTP/1.1"])
        await api.close()

        let again = APIClient(.unixSocket(server.path))
        #expect(try await again.get("/v1/third", as: Said.self).line == "GET /v1/third HTTP/1.1")
        await #expect { _ = try await again.post("/v1/attachments", Said(line: "x"), as: Said.self) } throws: { error in
            (error as? TetherError)?.message.contains("cannot reach tetherd") == true && "\(error)".contains("before an answer came")
        }
        #expect(server.requests.filter { $0.hasPrefix("POST") } == ["POST /v1/attachments HTTP/1.1"], "sent once")
        await again.close()
    }

    /// The same race, when the server closes with the request unread: the client's read meets
    /// a reset (ECONNRESET), not an end of stream.
    @Test func aKeptConnectionResetUnderAGetIsReplacedAndTheGetAnswered() async throws {
        let server = try ScriptedHTTPServer { connection, number in
            if number == 1 {
                if let line = connection.readRequest() { connection.answer(Self.said(line)) }
                connection.waitReadable()
                connection.close()   // unread bytes: the kernel resets the connection
            } else {
                Self.answerAll(connection, number)
            }
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        #expect(try await api.get("/v1/first", as: Said.self).line == "GET /v1/first HTTP/1.1")
        #expect(try await api.get("/v1/second", as: Said.self).line == "GET /v1/second HTTP/1.1")
        #expect(server.accepted == 2)
        #expect(server.requests == ["GET /v1/first HTTP/1.1", "GET /v1/second HTTP/1.1"])
        await api.close()
    }

    /// The common case: a server that closed an idle kept connection a while ago. The client
    /// saw it go, and a POST goes on a new connection, once.
    @Test func aKeptConnectionTheServerClosedWhileIdleIsNotUsed() async throws {
        let server = try ScriptedHTTPServer { connection, number in
            if let line = connection.readRequest() { connection.answer(Self.said(line)) }
            if number == 1 { return connection.close() }
            Self.answerAll(connection, number)
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        #expect(try await api.get("/v1/first", as: Said.self).line == "GET /v1/first HTTP/1.1")
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await api.post("/v1/attachments", Said(line: "x"), as: Said.self).line == "POST /v1/attachments HTTP/1.1")
        #expect(server.requests == ["GET /v1/first HTTP/1.1", "POST /v1/attachments HTTP/1.1"])
        await api.close()
    }

    /// An answer begun is a request the server read: it may have acted on it, so it is not sent
    /// again, even on a kept connection, and the error says what happened.
    @Test func anAnswerCutShortIsAnErrorAndTheRequestIsNotSentAgain() async throws {
        let server = try ScriptedHTTPServer { connection, _ in
            if let line = connection.readRequest() { connection.answer(Self.said(line)) }
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"line\":")
            connection.close()
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        #expect(try await api.get("/v1/first", as: Said.self).line == "GET /v1/first HTTP/1.1")
        await #expect { _ = try await api.post("/v1/attachments", Said(line: "x"), as: Said.self) } throws: { error in
            let error = error as! TetherError
            return error.code == .io && error.message.contains("closed the connection in the middle of its answer to POST /v1/attachments")
        }
        #expect(server.requests == ["GET /v1/first HTTP/1.1", "POST /v1/attachments HTTP/1.1"])
        #expect(server.accepted == 1)
        await api.close()
    }

    /// A cancelled request ends at once, as cancelled, and asks no other controller.
    @Test func aCancelledRequestEndsAtOnceAndAsksNoOtherServer() async throws {
        let server = try ScriptedHTTPServer(serve: Self.silent(3))
        let other = try ScriptedHTTPServer(serve: Self.answerAll)
        defer { server.stop(); other.stop() }
        let api = APIClient(servers: [.unixSocket(server.path), .unixSocket(other.path)])
        let start = ContinuousClock.now
        let request = Task { try await api.get("/v1/slow", as: Said.self) }
        try await Task.sleep(for: .milliseconds(200))
        request.cancel()
        await #expect { _ = try await request.value } throws: { error in (error as? TetherError)?.code == .interrupted }
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(other.accepted == 0)
        await api.close()
    }

    @Test func aNameAURLCannotHoldGoesPercentEncodedForTheServerToJudge() async throws {
        let server = try ScriptedHTTPServer(serve: Self.answerAll)
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        #expect(try await api.get("/v1/operations/a b", as: Said.self).line == "GET /v1/operations/a%20b HTTP/1.1")
        #expect(try await api.get("/v1/events?since=a b", as: Said.self).line == "GET /v1/events?since=a%20b HTTP/1.1")
        #expect(try await api.get("/v1/vms/vm-1", as: Said.self).line == "GET /v1/vms/vm-1 HTTP/1.1")
        await api.close()
    }

    /// Bytes after a whole answer, with no request asked: the connection no longer pairs
    /// requests with answers, and is not used again.
    @Test func anAnswerNobodyAskedForEndsItsConnection() async throws {
        let server = try ScriptedHTTPServer { connection, _ in
            if let line = connection.readRequest() {
                connection.answer(Self.said(line))
                connection.answer(Self.said("unasked"))
            }
            Self.answerAll(connection, 0)
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        #expect(try await api.get("/v1/a", as: Said.self).line == "GET /v1/a HTTP/1.1")
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await api.get("/v1/b", as: Said.self).line == "GET /v1/b HTTP/1.1")
        #expect(server.accepted == 2)
        await api.close()
    }

    @Test func aTLSServerWithoutThisEndsCertificateIsAClearError() async throws {
        let api = APIClient(.tls(HostPort(host: "127.0.0.1", port: 9)))
        await #expect { _ = try await api.get("/v1/status", as: Said.self) } throws: { error in
            (error as? TetherError)?.message.contains("needs this end's certificate from the cluster CA") == true
        }
        await api.close()
    }

    @Test func anAnswerThatDoesNotComeInTimeIsATimeout() async throws {
        let server = try ScriptedHTTPServer(serve: Self.silent(5))
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path), timeout: .milliseconds(300))
        let start = ContinuousClock.now
        await #expect { _ = try await api.get("/v1/slow", as: Said.self) } throws: { error in
            let error = error as? TetherError
            return error?.code == .timeout && error?.message.contains("did not answer in time") == true
                && error?.message.contains("to GET /v1/slow within 300 ms") == true
        }
        #expect(ContinuousClock.now - start < .seconds(3))
        await api.close()
    }

    @Test func somethingThatIsNotHTTPIsAClearError() async throws {
        let server = try ScriptedHTTPServer { connection, _ in
            _ = connection.readRequest()
            connection.write("SSH-2.0-OpenSSH_9.2\r\n\r\n")
            Thread.sleep(forTimeInterval: 1)
            connection.close()
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        await #expect { _ = try await api.get("/v1/x", as: Said.self) } throws: { error in
            (error as? TetherError)?.message.contains("answered with something that is not HTTP") == true
        }
        await api.close()
    }

    @Test func connectionCloseInAnAnswerIsHonoured() async throws {
        let server = try ScriptedHTTPServer { connection, _ in
            // Says it closes, and does not: the client must not send on it again.
            if let line = connection.readRequest() { connection.answer(Self.said(line), close: true) }
            while connection.readRequest() != nil {}
            connection.close()
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path), timeout: .seconds(5))
        #expect(try await api.get("/v1/a", as: Said.self).line == "GET /v1/a HTTP/1.1")
        #expect(try await api.get("/v1/b", as: Said.self).line == "GET /v1/b HTTP/1.1")
        #expect(server.accepted == 2)
        await api.close()
    }

    /// A long answer arrives in many reads, each a part appended to the body: all of it, in order.
    @Test func aLongAnswerArrivesWholeInOrder() async throws {
        let long = String((0..<(4 << 20)).map { Character(UnicodeScalar(UInt8(ascii: "a") + UInt8($0 % 26))) })
        let server = try ScriptedHTTPServer { connection, _ in
            _ = connection.readRequest()
            connection.answer(Self.said(long))
            while connection.readRequest() != nil {}
            connection.close()
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        #expect(try await api.get("/v1/status", as: Said.self).line == long)
        await api.close()
    }

    @Test func anAnswerLongerThanTheLimitIsRefused() async throws {
        let server = try ScriptedHTTPServer { connection, _ in
            _ = connection.readRequest()
            let body = #"{"line":""# + String(repeating: "a", count: 5_000) + #""}"#
            connection.answer(body)
            Thread.sleep(forTimeInterval: 1)
            connection.close()
        }
        defer { server.stop() }
        let api = APIClient(servers: [.unixSocket(server.path)], bodyLimit: 4_096)
        await #expect { _ = try await api.get("/v1/status", as: Said.self) } throws: { error in
            (error as? TetherError)?.message.contains("sent an answer longer than 4096 bytes to GET /v1/status") == true
        }
        await api.close()
    }

    @Test func aServerErrorIsTheServersOwnJSONError() async throws {
        let server = try ScriptedHTTPServer { connection, _ in
            _ = connection.readRequest()
            let body = #"{"error":{"code":"notFound","message":"no VM vm-9"}}"#
            connection.write("HTTP/1.1 404 Not Found\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            connection.close()
        }
        defer { server.stop() }
        let api = APIClient(.unixSocket(server.path))
        await #expect { _ = try await api.get("/v1/vms/vm-9", as: Said.self) } throws: { error in
            (error as? TetherError) == TetherError(.notFound, "no VM vm-9")
        }
        await api.close()
    }
}

/// How a connection's end reaches the exchange, from each layer that can report it.
@Suite struct HTTPExchangeEndTests {
    static let ends: [any Error] = [IOError(errnoCode: ECONNRESET, reason: "read"), IOError(errnoCode: EPIPE, reason: "write"),
                                    NIOSSLError.uncleanShutdown]

    @Test func aResetABrokenPipeAndAnUncleanTLSEndBeforeTheAnswerMayBeSentAgain() {
        for error in Self.ends {
            guard case HTTPExchangeFailure.closedBeforeReply = HTTPExchangeHandler.classify(error, answerBegun: false) else {
                Issue.record("\(error) is not the connection's end before an answer")
                continue
            }
        }
    }

    @Test func theSameInsideAnAnswerMayNot() {
        for error in Self.ends + [HTTPParserError.invalidEOFState] {
            guard case HTTPExchangeFailure.closedMidReply = HTTPExchangeHandler.classify(error, answerBegun: true) else {
                Issue.record("\(error) is not the connection's end inside an answer")
                continue
            }
        }
    }

    @Test func onlyARequestThatNeverLeftOrAGetIsSentAgain() {
        for method in [HTTPMethod.GET, .POST] {
            #expect(APIClient.mayResend(method, after: .notSent))
            #expect(APIClient.mayResend(method, after: .closedBeforeReply) == (method == .GET))
            #expect(!APIClient.mayResend(method, after: .closedMidReply))
            #expect(!APIClient.mayResend(method, after: .timedOut))
        }
    }

    @Test func otherErrorsStayAsTheyAre() {
        let refused = IOError(errnoCode: ECONNREFUSED, reason: "connect")
        #expect((HTTPExchangeHandler.classify(refused, answerBegun: false) as? IOError)?.errnoCode == ECONNREFUSED)
    }
}
