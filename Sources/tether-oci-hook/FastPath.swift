import Glibc

/// tether-oci-hook: what the runtime calls for every container, so it must cost next to
/// nothing when a container asks for no device. It links nothing but the C library (the full
/// hook, with its HTTP client, TLS and Foundation, takes over 10 ms just to start), reads the
/// state with a small strict JSON reader, and exits 0 when the state is well formed, the
/// arguments are right, and no `tether.io/devices` is asked. Anything else (a device asked, or
/// anything malformed) goes to tether-oci-attach beside it, with the same arguments and the
/// state on its stdin, which does the work or says exactly what is wrong.
@main
struct FastPath {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let input = readAll(0)
        // `--devices` (a CDI spec's hook) always asks for a device: the full hook does the work.
        if let input, argumentsAreKnown(arguments), !arguments.contains("--devices") {
            var reader = StateReader(input)
            if let state = reader.state(), !state.asksForDevices { exit(0) }
        }
        handOver(arguments, input ?? [])
    }

    /// The arguments tether-oci-attach takes; unknown ones are its to report.
    static func argumentsAreKnown(_ arguments: [String]) -> Bool {
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "create", "createRuntime", "prestart", "poststop": i += 1
            case "--socket", "--vm", "--timeout", "--sysfs", "--devices":
                guard i + 1 < arguments.count else { return false }
                i += 2
            default: return false
            }
        }
        return true
    }

    /// All of stdin, up to 1 MiB (nil beyond: too big to be a runtime's state).
    static func readAll(_ fd: Int32) -> [UInt8]? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? bytes : nil }
            bytes += chunk[0..<n]
            if bytes.count > 1 << 20 { return nil }
        }
    }

    /// Execs tether-oci-attach (beside this program) with the state on a fresh stdin.
    static func handOver(_ arguments: [String], _ input: [UInt8]) -> Never {
        var path = [CChar](repeating: 0, count: Int(PATH_MAX))
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        var directory = length > 0 ? String(decoding: path[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        if let slash = directory.lastIndex(of: "/") { directory = String(directory[..<slash]) }
        let attach = directory + "/tether-oci-attach"
        // The state goes through a pipe when it fits its buffer (it always does: a few hundred bytes).
        var fds: [Int32] = [0, 0]
        if input.count <= 60_000, pipe(&fds) == 0 {
            _ = input.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
            close(fds[1])
            dup2(fds[0], 0)
            close(fds[0])
        }
        let argv = ([attach] + arguments).map { strdup($0) } + [nil]
        execv(attach, argv)
        let message = "tether-oci-hook: cannot run \(attach): \(String(cString: strerror(errno)))\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        exit(1)
    }
}
