import Foundation
import TetherModel
import TetherSystem

/// A TCP connection of QEMU's that the kernel has been retransmitting into for a while: data
/// sent, no acknowledgement through several retransmission timeouts. QEMU's NBD client cannot tell (it has no deadline of its
/// own): the request fails only when TCP gives up, about 3 s after the first loss with
/// `tcp_retries2=2` (the kernel checks at its retransmission timer's firings: 0.2, 0.6, 1.4,
/// 3.0 s). The agent, which sees its own heartbeats pass on the same path meanwhile, knows
/// sooner that this one connection is dead, and closes it through the kernel (`ss -K`,
/// SOCK_DESTROY): QEMU's request fails at once, and the disk is reopened or the VM moved.
public struct StuckConnection: Sendable, Equatable, CustomStringConvertible {
    public var local: String
    public var peer: String
    /// Bytes sent and not acknowledged.
    public var unacknowledgedBytes: Int64
    /// Retransmission timeouts in a row without an acknowledgement (`backoff`): with TCP's
    /// shortest timeout of 200 ms, 2 is 0.6 s of silence, 3 is 1.4 s.
    public var backoff: Int

    public var description: String { "\(local) -> \(peer): \(unacknowledgedBytes) bytes unacknowledged through \(backoff) retransmission timeouts" }

    /// The connections of process `pid` in `ss -tinpH` output (each socket's line, then its
    /// indented `-i` line) with bytes unacknowledged through at least `backoff` timeouts.
    public static func parse(_ listing: String, pid: Int32, backoff threshold: Int) -> [StuckConnection] {
        var found: [StuckConnection] = []
        var current: (local: String, peer: String)?
        for line in listing.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.first == " " || line.first == "\t" {
                guard let socket = current else { continue }
                current = nil
                let fields = Self.fields(line)
                // bytes_acked counts the SYN too: a connection with nothing in flight has one more.
                guard let sent = fields["bytes_sent"].flatMap({ Int64($0) }), let acked = fields["bytes_acked"].flatMap({ Int64($0) }),
                      sent + 1 > acked, let backoff = fields["backoff"].flatMap({ Int($0) }), backoff >= threshold else { continue }
                found.append(StuckConnection(local: socket.local, peer: socket.peer, unacknowledgedBytes: sent + 1 - acked, backoff: backoff))
            } else {
                // "0 540 10.83.0.11:39546 10.83.0.1:10809 users:(("qemu-system-x86",pid=9149,fd=9))"
                let words = line.split(separator: " ", omittingEmptySubsequences: true)
                current = words.count > 4 && line.contains("pid=\(pid),") ? (String(words[2]), String(words[3])) : nil
            }
        }
        return found
    }

    /// `key:value` words of an `ss -i` line.
    private static func fields(_ line: Substring) -> [String: String] {
        var fields: [String: String] = [:]
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            guard let colon = word.firstIndex(of: ":") else { continue }
            fields[String(word[..<colon])] = String(word[word.index(after: colon)...])
        }
        return fields
    }

    /// QEMU's (process `pid`) established connections to `peer` stuck through `backoff`
    /// timeouts, as `ss` lists them in `namespace` (nil: this process's).
    static func find(pid: Int32, to peer: NBDPath, backoff: Int, namespace: String?) throws(TetherError) -> [StuckConnection] {
        let listing = try ss(["-tinpH", "state", "established", "dst", "\(peer.host):\(peer.port)"], namespace: namespace)
        return parse(listing, pid: pid, backoff: backoff)
    }

    /// Closes this connection in the kernel: its owner's next (or waiting) read or write fails.
    func destroy(namespace: String?) throws(TetherError) {
        guard let localPort = local.split(separator: ":").last, let peerPort = peer.split(separator: ":").last,
              let peerHost = peer.split(separator: ":").first else { throw TetherError(.invalidArgument, "not an address pair: \(self)") }
        // `ss -K` lists the sockets it closed; a kernel without SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY) lists none.
        let closed = try Self.ss(["-K", "-tnH", "state", "established", "dst", "\(peerHost):\(peerPort)", "sport", "= :\(localPort)"], namespace: namespace)
        guard closed.contains(local) else {
            throw TetherError(.unsupported, "the kernel did not close \(self) (ss -K needs CONFIG_INET_DIAG_DESTROY)")
        }
    }

    private static func ss(_ arguments: [String], namespace: String?) throws(TetherError) -> String {
        let ss = try Executable.find("ss", package: "iproute2")
        var program = ss, words = arguments
        if let namespace {
            program = try Executable.find("ip", package: "iproute2")
            words = ["netns", "exec", namespace, ss] + arguments
        }
        let result = try ChildProcess.run(program, words)
        guard result.status == 0 else { throw TetherError(.io, "ss \(arguments.joined(separator: " ")): \(result.output)") }
        return result.output
    }
}

extension StuckConnection {
    /// How long the connection has had no acknowledgement at least: TCP's retransmission
    /// timeout starts at 200 ms at the shortest and doubles at each `backoff`.
    public var silentAtLeast: Duration { .milliseconds(200 * ((1 << min(backoff, 20)) - 1)) }
}

extension QEMUMachine {
    /// The connections of this VM's network disk (on the path it uses now) that have had data
    /// unacknowledged through `backoff` retransmission timeouts (see `StuckConnection`). Only
    /// for a QEMU this process started (an adopted one's process is not known here): none.
    public func stuckDiskConnections(backoff: Int) async throws -> (path: NBDPath, connections: [StuckConnection])? {
        guard let pid = processID, let path = try await diskPath() else { return nil }
        return (path, try StuckConnection.find(pid: pid, to: path, backoff: backoff, namespace: networkNamespace))
    }

    /// Closes them in the kernel: QEMU's requests waiting on them fail at once.
    public func closeConnections(_ connections: [StuckConnection]) throws {
        for connection in connections { try connection.destroy(namespace: networkNamespace) }
    }
}
