import Foundation
import Synchronization
import TetherModel
import TetherSystem
import TetherTestSupport

/// An HTTP server on a unix socket that answers as a test scripts it, byte for byte: each
/// connection it accepts goes to `serve` with its number (from 1), on a thread of its own. For
/// what a real server never does on purpose: close a kept connection, answer in part, not at all.
final class ScriptedHTTPServer: Sendable {
    let path: String
    private let listener: Int32
    private let counts = Mutex((accepted: 0, requests: [String]()))

    var accepted: Int { counts.withLock { $0.accepted } }
    /// Every request line read, in order.
    var requests: [String] { counts.withLock { $0.requests } }

    init(serve: @escaping @Sendable (Connection, Int) -> Void) throws {
        path = try Fixtures.temporaryDirectory().appendingPathComponent("api.sock").path
        let listener = try UnixSocket.bind(path, type: Int32(SOCK_STREAM.rawValue))
        self.listener = listener
        guard listen(listener, 16) == 0 else {
            close(listener)
            throw TetherError(.io, "cannot listen on \(path)", cause: String(cString: strerror(errno)))
        }
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                let number = counts.withLock { $0.accepted += 1; return $0.accepted }
                Thread.detachNewThread { serve(Connection(fd: fd, server: self), number) }
            }
        }
    }

    /// Stops accepting; connections end with their scripts.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    fileprivate func record(_ line: String) { counts.withLock { $0.requests.append(line) } }

    struct Connection: Sendable {
        let fd: Int32
        fileprivate let server: ScriptedHTTPServer

        /// Reads one request, head and body (by its Content-Length); its request line, or nil
        /// when the client closed.
        func readRequest() -> String? {
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while !bytes.ends(with: [13, 10, 13, 10]) {
                guard recv(fd, &byte, 1, 0) == 1 else { return nil }
                bytes.append(byte)
            }
            let head = String(decoding: bytes, as: UTF8.self)
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            for _ in 0..<length { guard recv(fd, &byte, 1, 0) == 1 else { return nil } }
            let line = head.split(separator: "\r\n").first.map(String.init) ?? ""
            server.record(line)
            return line
        }

        /// Waits until the client has sent something, without reading it.
        func waitReadable() {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, 10_000)
        }

        func write(_ text: String) { write(Array(text.utf8)) }

        func write(_ bytes: [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { return }
                offset += n
            }
        }

        /// A whole JSON answer that keeps the connection open.
        func answer(_ json: String, close: Bool = false) {
            write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n"
                  + (close ? "Connection: close\r\n" : "") + "\r\n" + json)
        }

        func close() { Glibc.close(fd) }
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
