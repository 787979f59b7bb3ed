import Foundation
import TetherModel
import TetherTestSupport

/// Debian's podman with runc, on a storage root of its own (vfs, in a temporary directory, so
/// nothing of the machine's own containers is touched), and an image imported from a busybox
/// rootfs since no registry is reachable.
struct Podman {
    static var canRun: Bool { Tools.which("podman") != nil && RuncBundle.canRun && Tools.which("unshare") != nil }
    static let image = "localhost/tether-busybox"

    let directory: String

    init() async throws {
        // Short: podman refuses a runroot longer than 50 characters.
        directory = "/tmp/tpod-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let rootfs = "\(directory)/rootfs"
        let bin = "\(rootfs)/bin"
        for dir in [bin, "\(rootfs)/dev", "\(rootfs)/proc", "\(rootfs)/sys", "\(rootfs)/tmp", "\(rootfs)/etc"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: RuncBundle.busybox ?? "/bin/busybox", toPath: "\(bin)/busybox")
        for applet in ["sh", "ls", "test", "echo", "cat", "env"] {
            try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(applet)", withDestinationPath: "busybox")
        }
        let tar = try await ProcessRunner.run("/usr/bin/env", ["tar", "-C", rootfs, "-cf", "\(directory)/rootfs.tar", "."])
        guard tar.status == 0 else { throw TetherError(.io, "tar: \(tar.stderr)") }
        let imported = try await podman(["import", "-q", "\(directory)/rootfs.tar", Self.image])
        guard imported.status == 0 else { throw TetherError(.io, "podman import: \(imported.stderr)") }
    }

    /// Its storage, runtime state and events under the test's directory; cgroupfs and a file
    /// for events, since no systemd runs here.
    var globals: [String] {
        ["--root", "\(directory)/root", "--runroot", "\(directory)/run", "--tmpdir", "\(directory)/tmp", "--storage-driver", "vfs",
         "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc", "--runtime-flag", "root=\(directory)/runc"]
    }

    /// podman's default limits (nofile 1048576) are above what an unprivileged sandbox's hard
    /// limits allow; runc would refuse to set them.
    static var limits: [String] {
        var files = rlimit(), processes = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        getrlimit(Int32(__RLIMIT_NPROC.rawValue), &processes)
        let nofile = min(files.rlim_max, 1_048_576), nproc = min(processes.rlim_max, 32768)
        return ["--ulimit", "nofile=\(nofile):\(nofile)", "--ulimit", "nproc=\(nproc):\(nproc)"]
    }

    func podman(_ arguments: [String], timeout: TimeInterval = 120) async throws -> ProcessResult {
        try await ProcessRunner.run(Tools.which("podman") ?? "podman", globals + arguments, timeout: timeout)
    }

    /// `podman run --rm` of `command` in the busybox image, without a network.
    func run(_ options: [String], command: String, timeout: TimeInterval = 120) async throws -> ProcessResult {
        try await podman(["run", "--rm", "--network", "none"] + Self.limits + options + [Self.image, "sh", "-c", command], timeout: timeout)
    }

    /// The same, with `cdiDirectory` seen at /etc/cdi (podman 4.3 reads only /etc/cdi and
    /// /var/run/cdi): a bind mount in a mount namespace of its own, the machine's /etc untouched.
    func run(cdi cdiDirectory: String, _ options: [String], command: String) async throws -> ProcessResult {
        let podman = ([Tools.which("podman") ?? "podman"] + globals + ["run", "--rm", "--network", "none"] + Self.limits + options
                      + [Self.image, "sh", "-c", command]).map { "'\($0.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: " ")
        let script = "mkdir -p /etc/cdi && mount --bind '\(cdiDirectory)' /etc/cdi && exec \(podman)"
        return try await ProcessRunner.run("/usr/bin/env", ["unshare", "-m", "--propagation", "private", "sh", "-c", script], timeout: 120)
    }

    func remove() {
        let rmi = Process()
        rmi.executableURL = URL(fileURLWithPath: Tools.which("podman") ?? "/usr/bin/podman")
        rmi.arguments = globals + ["rmi", "-af"]
        rmi.standardOutput = FileHandle.nullDevice
        rmi.standardError = FileHandle.nullDevice
        if (try? rmi.run()) != nil { rmi.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
