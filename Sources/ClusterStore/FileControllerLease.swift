import Foundation
import TetherModel

/// One controller per store file: an exclusive lock on `STORE.lock`, held for the process's life
/// (the kernel drops it when the process dies, even by SIGKILL). A controller that is still
/// shutting down holds it a moment longer, so a new one waits a little before it gives up.
public final class FileControllerLease: ControllerLease {
    public let path: String
    public let holder: String
    private let fd: Int32

    public init(path: String, wait: Duration = .seconds(30)) async throws(TetherError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TetherError(.io, "cannot open \(path)", cause: String(cString: strerror(errno))) }
        let deadline = ContinuousClock.now + wait
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK, ContinuousClock.now < deadline else {
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
                close(fd)
                throw TetherError(.busy, "another tetherd (pid \(holder)) uses this store; stop it first", cause: path)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        self.fd = fd
        self.holder = "pid \(getpid())"
    }

    public func release() async {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
