import Foundation
import TetherModel
import TetherSystem

/// Ports on this host (in this network namespace): a free one to hand a new listener, and
/// whether one is listening yet, read from the kernel's table rather than by connecting (the
/// usbredir exporter serves one client; a probing connection would be taken for it).
enum LocalPorts {
    /// A TCP port nobody listens on now (the kernel's pick for an ephemeral bind).
    static func free(on host: String = "127.0.0.1") throws(TetherError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TetherError(.io, "cannot open a socket", cause: String(cString: strerror(errno))) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TetherError(.io, "cannot find a free port on \(host)", cause: String(cString: strerror(errno))) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True once something listens on `port` (any address), per /proc/net/tcp and tcp6.
    static func isListening(_ port: Int) -> Bool {
        let hex = String(format: ":%04X", port)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // Whole: a host's sockets fill many pages, and the listeners come in hash order.
            guard let text = ProcFile.text(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // local_address is field 1, st (0A: LISTEN) field 3.
                if fields.count > 3, fields[1].hasSuffix(hex), fields[3] == "0A" { return true }
            }
        }
        return false
    }

    static func waitListening(_ port: Int, within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isListening(port) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return isListening(port)
    }
}
