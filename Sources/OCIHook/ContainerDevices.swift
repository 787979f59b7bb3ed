import Foundation
import TetherModel
import TetherSystem

/// Puts a device node into a running container: created in the container's mount namespace
/// (under its rootfs before pivot_root, as in a createRuntime hook; in /dev after), and allowed
/// in its device cgroup where cgroup v1's devices controller is in use. (Under cgroup v2 the
/// runtime's own device rules decide: allow `c 189:* rwm` in the container's configuration.)
public enum ContainerDevices {
    public static func expose(_ device: LocalUSBDevice, pid: Int32, rootfs: String) throws(TetherError) {
        // setns(2) into a mount namespace is for single-threaded processes only: a helper does it.
        let script = """
            set -e
            root="$1"; [ -d "$root/dev" ] || root=""
            dir="$root$(dirname "$2")"; node="$root$2"
            mkdir -p "$dir"; rm -f "$node"; mknod -m 666 "$node" c "$3" "$4"
            """
        let output = try Helper.run(["nsenter", "--target", "\(pid)", "--mount", "--", "/bin/sh", "-c", script, "expose",
                                           rootfs, device.node, "\(device.major)", "\(device.minor)"])
        guard output.status == 0 else {
            throw TetherError(.io, "cannot create \(device.node) in the container (pid \(pid)): \(output.output)")
        }
        if let cgroup = devicesCgroup(pid: pid) {
            let rule = "c \(device.major):\(device.minor) rwm"
            do {
                try rule.write(toFile: "\(cgroup)/devices.allow", atomically: false, encoding: .utf8)
            } catch {
                throw TetherError(.permissionDenied, "cannot allow \(device.node) in the container's device cgroup \(cgroup)", cause: "\(error)")
            }
        }
    }

    /// The container's cgroup v1 devices directory, if that controller is in use.
    static func devicesCgroup(pid: Int32, root: String = "/sys/fs/cgroup/devices") -> String? {
        guard let text = ProcFile.text("/proc/\(pid)/cgroup") else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[1].split(separator: ",").contains("devices") else { continue }
            let path = root + fields[2]
            return FileManager.default.fileExists(atPath: "\(path)/devices.allow") ? path : nil
        }
        return nil
    }

    /// The container's root filesystem, from its bundle's config.json (`root.path`, relative to
    /// the bundle unless absolute).
    public static func rootfs(bundle: String) throws(TetherError) -> String {
        struct Config: Decodable {
            struct Root: Decodable { var path: String }
            var root: Root
        }
        let path = "\(bundle)/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TetherError(.notFound, "cannot read the bundle's \(path)")
        }
        do {
            let root = try JSONDecoder().decode(Config.self, from: data).root.path
            return root.hasPrefix("/") ? root : "\(bundle)/\(root)"
        } catch {
            throw TetherError(.invalidArgument, "\(path) has no usable root.path", cause: APIJSON.describe(error))
        }
    }
}

/// A short helper process (nsenter), without interposers from our environment.
enum Helper {
    static func run(_ command: [String]) throws(TetherError) -> (status: Int32, output: String) {
        let environment = ProcessInfo.processInfo.environment.filter { !["LD_PRELOAD", "UMOCKDEV_DIR"].contains($0.key) }
        return try ChildProcess.run(try Executable.find(command[0], package: "util-linux"), Array(command.dropFirst()), environment: environment)
    }
}
