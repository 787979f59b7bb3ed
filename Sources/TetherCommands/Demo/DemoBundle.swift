import Foundation
import TetherModel
import TetherSystem

/// The demo's container: busybox, asking for the dongle by annotation, with tether-oci-hook as
/// its createRuntime and poststop hooks. The hook runs under umockdev with host-b's recording,
/// so that it finds the device in "this host's" sysfs, as it would inside vm-b.
struct DemoBundle {
    let directory: String

    init(directory: String, cluster: DemoCluster) throws {
        self.directory = directory
        let bin = "\(directory)/rootfs/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try Executable.find("busybox", package: "busybox-static"), toPath: "\(bin)/busybox")
        for applet in ["sh", "ls", "test", "echo"] { try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(applet)", withDestinationPath: "busybox") }
        guard try Self.runc(["spec", "--bundle", directory]).status == 0,
              var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/config.json"))) as? [String: Any],
              var process = config["process"] as? [String: Any] else { throw TetherError(.io, "runc spec failed") }
        process["terminal"] = false
        process["args"] = ["sh", "-c", "for n in /dev/bus/usb/*/*; do test -c $n && echo \"found $n, a character device: the dongle\"; done"]
        config["process"] = process
        config["annotations"] = ["tether.io/devices": "1a86:7523"]
        let umockdev = try Executable.find("umockdev-run", package: "umockdev")
        let hook = { (stage: String) -> [String: Any] in
            ["path": umockdev, "args": ["umockdev-run", "-d", cluster.recording, "--", "\(cluster.binaries)/tether-oci-hook", stage,
                                       "--socket", cluster.socket, "--vm", "vm-b"]]
        }
        config["hooks"] = ["createRuntime": [hook("create")], "poststop": [hook("poststop")]]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: "\(directory)/config.json"))
    }

    static func runc(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ChildProcess.run(try Executable.find("runc", package: "runc"), arguments)
    }
}
