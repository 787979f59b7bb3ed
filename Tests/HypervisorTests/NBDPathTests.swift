import Foundation
@testable import Hypervisor
import TetherModel
import Testing

/// A datastore path as configured (`nbd://HOST:PORT`) and the QEMU arguments of a network disk.
struct NBDPathTests {
    @Test(arguments: [
        ("nbd://10.83.0.1:10809", "10.83.0.1", 10809),
        ("nbd://10.84.0.1:20000/", "10.84.0.1", 20000),
        ("nbd://storage-a", "storage-a", 10809),
        ("nbd://[fd00::1]:10810", "fd00::1", 10810),
    ])
    func aPathIsHostAndPort(uri: String, host: String, port: Int) throws {
        let path = try NBDPath(parsing: uri)
        #expect(path == NBDPath(host: host, port: port))
        #expect(try NBDPath(parsing: path.description) == path, "its description parses back")
    }

    @Test(arguments: [
        ("10.83.0.1:10809", "must start with nbd://"),
        ("nbd+unix:///vm-1?socket=/run/nbd", "must start with nbd://"),
        ("nbd://10.83.0.1:10809/vm-1", "export name belongs to the VM's disk"),
        ("nbd://10.83.0.1:0", "port must be a number from 1 to 65535"),
        ("nbd://10.83.0.1:http", "port must be a number from 1 to 65535"),
        ("nbd://:10809", "host is missing"),
        ("nbd://fd00::1:10809", "IPv6 address in brackets"),
        ("nbd://[fd00::1:10809", "closing ]"),
        ("nbd://a b:10809", "host is missing or has characters"),
    ])
    func aMalformedPathIsRefusedSayingWhy(uri: String, why: String) {
        #expect {
            try NBDPath(parsing: uri)
        } throws: { error in
            guard let error = error as? TetherError else { return false }
            return error.code == .invalidArgument && error.message.contains(why) && error.message.contains(uri)
        }
    }

    @Test func aDiskNeedsAPathAnExportNameAndNoPathTwice() {
        #expect(throws: TetherError.self) { try NetworkDisk(paths: [], export: "vm-1") }
        #expect(throws: TetherError.self) { try NetworkDisk(uris: ["nbd://10.0.0.1"], export: "") }
        #expect(throws: TetherError.self) { try NetworkDisk(uris: ["nbd://10.0.0.1"], export: "a/b") }
        #expect(throws: TetherError.self) { try NetworkDisk(uris: ["nbd://10.0.0.1", "nbd://10.0.0.1:10809"], export: "vm-1") }
    }

    @Test func qemuOpensTheDiskOnItsFirstPathAndStopsOnErrors() throws {
        var spec = VMSpec(name: "vm-1", usbController: false)
        spec.networkDisk = try NetworkDisk(uris: ["nbd://10.83.0.1:10809", "nbd://10.84.0.1:10809"], export: "vm-1")
        let arguments = try spec.arguments(qmpSocket: "/tmp/x.qmp")
        let blockdevs = arguments.indices.filter { arguments[$0] == "-blockdev" }.map { arguments[$0 + 1] }
        #expect(blockdevs == [
            #"{"driver":"nbd","export":"vm-1","node-name":"disk0-nbd0","reconnect-delay":0,"#
                + #""server":{"host":"10.83.0.1","keep-alive":true,"port":"10809","type":"inet"}}"#,
            #"{"driver":"raw","file":"disk0-nbd0","node-name":"disk0-fmt0"}"#,
        ])
        #expect(arguments.contains("virtio-blk-pci,drive=disk0-fmt0,id=disk0,werror=stop,rerror=stop,bootindex=0"))

        spec.disk = "/tmp/local.raw"
        #expect(throws: TetherError.self) { try spec.arguments(qmpSocket: "/tmp/x.qmp") }
    }

    @Test func qemusNodeFilenameNamesThePathAndTheExport() {
        let location = NetworkDisk.location(ofNodeFilename: "nbd://10.84.0.1:10809/vm-1")
        #expect(location?.path == NBDPath(host: "10.84.0.1") && location?.export == "vm-1")
        #expect(NetworkDisk.location(ofNodeFilename: "nbd://[fd00::1]:10810/vm-2")?.path == NBDPath(host: "fd00::1", port: 10810))
        #expect(NetworkDisk.location(ofNodeFilename: "/var/lib/disk.raw") == nil)
        #expect(QEMUMachine.oldDiskNodes(top: "disk0-fmt3") == ["disk0-fmt3", "disk0-nbd3"])
        #expect(QEMUMachine.oldDiskNodes(top: "other") == ["other"])
    }

    @Test func aProbeOfAPortWhereNothingListensFailsAtOnce() async {
        let start = ContinuousClock.now
        await #expect(throws: TetherError.self) {
            try await NBDPathProbe.check(NBDPath(host: "127.0.0.1", port: 9), timeout: .seconds(2))
        }
        #expect(ContinuousClock.now - start < .seconds(1))
    }
}
