import Foundation

/// Reads a file of /proc whole. A proc file says its size is 0 and is made as it is read, and
/// Foundation's whole-file readers (`String(contentsOfFile:)`, `FileManager.contents(atPath:)`,
/// `Data(contentsOf:)`) stop after the first page of such a file: 4,050 bytes of a 45,750-byte
/// /proc/net/tcp, measured, which is 26 sockets. Here it is `read` until end of file, as `cat`
/// does.
public enum ProcFile {
    /// The file's bytes; nil when it cannot be opened (the process has gone) or read.
    public static func bytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { return content }
            content += chunk.prefix(n)
        }
    }

    /// The file as UTF-8 text; nil as for `bytes`.
    public static func text(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }
}
