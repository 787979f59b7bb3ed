import Foundation
import OCIHook
import Testing
import TetherModel
import TetherTestSupport

/// What the hook reads: the runtime's state, the annotation, this host's sysfs, the bundle.
struct HookInputTests {
    @Test func aRuntimesStateDecodes() throws {
        let state = try ContainerState.parse(Data(#"""
            {"ociVersion": "1.0.2", "id": "cam-1", "status": "created", "pid": 4242, "bundle": "/run/bundles/cam-1",
             "annotations": {"tether.io/devices": "046d:0825, host-b/1-4", "other": "x"}}
            """#.utf8))
        #expect(state.id == "cam-1" && state.pid == 4242 && state.bundle == "/run/bundles/cam-1")
        #expect(try DeviceAnnotation.selectors(in: state.annotations)
                == [.product(vendorId: "046d", productId: "0825", serial: nil), .port(DeviceRef("host-b/1-4")!)])
        let plain = try ContainerState.parse(Data(#"{"ociVersion": "1.0.2", "id": "c", "status": "creating", "bundle": "/b"}"#.utf8))
        #expect(plain.annotations.isEmpty && plain.pid == nil)
        #expect(try DeviceAnnotation.selectors(in: plain.annotations).isEmpty)
    }

    @Test(arguments: [
        ("", []),
        ("  ", []),
        ("1a86:7523", ["1a86:7523"]),
        ("1a86:7523,1A86:7523", ["1a86:7523"]),
        ("046d:0825:SER-1 , host-b/1-3", ["046d:0825:SER-1", "host-b/1-3"]),
    ])
    func annotationsNameDevices(_ text: String, _ expected: [String]) throws {
        #expect(try DeviceAnnotation.selectors(in: ["tether.io/devices": text]).map(\.description) == expected)
    }

    @Test(arguments: [
        ("1a86:7523,", "has an empty entry"),
        ("webcam", "device 'webcam' is not a selector"),
        ("1a86:75", "is not a selector"),
        ("host-b/", "is not HOST/PORT"),
    ])
    func badAnnotationsSayWhatIsWrong(_ text: String, _ says: String) {
        #expect { try DeviceAnnotation.selectors(in: ["tether.io/devices": text]) } throws: { error in
            (error as? TetherError)?.message.contains(says) == true
        }
    }

    @Test func sysfsListsDevicesWithTheirNodes() throws {
        let root = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: root) }
        func device(_ name: String, _ attributes: [String: String]) throws {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
            for (key, value) in attributes { try "\(value)\n".write(toFile: "\(root)/\(name)/\(key)", atomically: true, encoding: .utf8) }
        }
        try device("usb1", ["idVendor": "1d6b", "idProduct": "0002", "bDeviceClass": "09", "busnum": "1", "devnum": "1"])
        try device("1-4", ["idVendor": "1A86", "idProduct": "7523", "bDeviceClass": "ff", "busnum": "1", "devnum": "5"])
        try device("1-4:1.0", ["bInterfaceClass": "ff"])
        try device("2-1", ["idVendor": "046d", "idProduct": "0825", "bDeviceClass": "ef", "busnum": "2", "devnum": "3",
                           "serial": "6A1B2C3D", "dev": "189:130"])
        #expect(LocalUSBDevice.all(root: root).map(\.name) == ["1-4", "2-1"], "hubs and interfaces are not devices")
        let dongle = try #require(LocalUSBDevice.find(vendorId: "1a86", productId: "7523", serial: nil, root: root))
        #expect(dongle.node == "/dev/bus/usb/001/005")
        #expect(dongle.major == 189 && dongle.minor == 4, "the kernel's numbering where sysfs has no dev file")
        let webcam = try #require(LocalUSBDevice.find(vendorId: "046d", productId: "0825", serial: "6A1B2C3D", root: root))
        #expect(webcam.minor == 130)
        #expect(LocalUSBDevice.find(vendorId: "046d", productId: "0825", serial: "OTHER", root: root) == nil)
    }

    @Test func theRootfsComesFromTheBundle() throws {
        let bundle = try Fixtures.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try #"{"root": {"path": "rootfs"}}"#.write(toFile: "\(bundle)/config.json", atomically: true, encoding: .utf8)
        #expect(try ContainerDevices.rootfs(bundle: bundle) == "\(bundle)/rootfs")
        try #"{"root": {"path": "/srv/c1"}}"#.write(toFile: "\(bundle)/config.json", atomically: true, encoding: .utf8)
        #expect(try ContainerDevices.rootfs(bundle: bundle) == "/srv/c1")
        try #"{"process": {}}"#.write(toFile: "\(bundle)/config.json", atomically: true, encoding: .utf8)
        #expect(throws: TetherError.self) { try ContainerDevices.rootfs(bundle: bundle) }
    }
}
