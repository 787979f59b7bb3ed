import Foundation

/// A QMP peer that misbehaves on purpose, for the faults real QEMU will not produce on demand:
/// it greets, answers qmp_capabilities, then treats the next command as `behaviour` says.
public final class FakeQMPServer: @unchecked Sendable {
    public enum Behaviour: Sendable {
        case closeOnCommand          // QEMU dies mid-command
        case reply(String)           // any line, JSON or not
        case silent                  // never answers
        case noGreeting              // accepts and says nothing
        /// Answers each command in turn with the next line, its `ID` replaced by the command's
        /// id; then silent. `commands` says what was asked.
        case script([String])
    }

    private final class CommandLog: @unchecked Sendable {
        private let lock = NSLock()
        private var names: [String] = []
        func append(_ name: String) { lock.withLock { names.append(name) } }
        var all: [String] { lock.withLock { names } }
    }
    private let log = CommandLog()
    /// The commands asked after qmp_capabilities, in order (a `.script` server's).
    public var commands: [String] { log.all }

    public let path: String
    private let listener: Int32

    /// `busyFor`: the socket refuses connections this long first, its one-slot backlog taken by
    /// another client, as a QEMU that has not yet seen its previous client leave.
    public init(_ behaviour: Behaviour, busyFor: TimeInterval = 0) throws {
        path = "/tmp/fq-\(UUID().uuidString.prefix(8)).sock"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, busyFor > 0 ? 0 : 1) == 0 else { throw POSIXError(.EADDRINUSE) }
        let fd = listener
        var blocker: Int32 = -1
        if busyFor > 0 {
            blocker = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(blocker, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        let held = blocker
        let log = self.log
        Thread.detachNewThread {
            if held >= 0 {
                Thread.sleep(forTimeInterval: busyFor)
                close(accept(fd, nil, nil))   // the previous client, gone
                close(held)
            }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            func send(_ line: String) { _ = (line + "\r\n").withCString { write(client, $0, strlen($0)) } }
            func readLine() -> Bool { line() != nil }
            func line() -> String? {
                var bytes: [UInt8] = []
                var byte: UInt8 = 0
                while read(client, &byte, 1) == 1 {
                    if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
                    bytes.append(byte)
                }
                return nil
            }
            if case .noGreeting = behaviour {
                Thread.sleep(forTimeInterval: 30)
                close(client)
                return
            }
            send(#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}"#)
            guard readLine() else { return }
            send(#"{"return": {}, "id": 1}"#)
            if case .script(let answers) = behaviour {
                for answer in answers {
                    guard let request = line(),
                          let object = try? JSONSerialization.jsonObject(with: Data(request.utf8)) as? [String: Any] else { break }
                    log.append(object["execute"] as? String ?? "?")
                    send(answer.replacingOccurrences(of: "ID", with: "\((object["id"] as? Int) ?? 0)"))
                }
                Thread.sleep(forTimeInterval: 30)
                close(client)
                return
            }
            guard readLine() else { return }
            switch behaviour {
            case .closeOnCommand: close(client)
            case .reply(let line): send(line); Thread.sleep(forTimeInterval: 30); close(client)
            case .silent, .noGreeting: Thread.sleep(forTimeInterval: 30); close(client)
            case .script: break
            }
        }
    }

    deinit {
        close(listener)
        unlink(path)
    }
}
