import Foundation

/// A local user who is not QEMU's (uid 65534, through setpriv): what any other process on a
/// host can do to a socket Tether listens on.
public enum LocalOutsider {
    public static let available = getuid() == 0 && Tools.which("setpriv") != nil
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    public static let missing = "needs root, setpriv (util-linux) and /usr/bin/python3 to run a client as another user"

    /// Connects as uid 65534 to `unix:PATH` or `tcp:PORT`, sends a line and half-closes. Prints
    /// the error and exits 3 when the connect fails; prints "connected" otherwise.
    public static func connect(_ target: String) async throws -> ProcessResult {
        let script = """
            import socket, sys
            kind, where = sys.argv[1].split(":", 1)
            s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET)
            s.settimeout(10)
            try:
                s.connect(where if kind == "unix" else ("127.0.0.1", int(where)))
            except OSError as e:
                print(e.strerror); sys.exit(3)
            s.sendall(b"an outsider's bytes\\n"); s.shutdown(socket.SHUT_WR)
            print("connected")
            try: s.recv(4096)
            except OSError: pass
            """
        return try await ProcessRunner.run(Tools.which("setpriv") ?? "/usr/bin/setpriv",
                                     ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, target],
                                     timeout: 30)
    }
}
