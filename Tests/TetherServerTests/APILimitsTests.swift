import Foundation
import Testing
import TetherModel
@testable import Hypervisor

/// What the agents and the controller refuse before acting on it: launch figures that would
/// become file names, QEMU options or overflows; and device selectors that must read back as
/// they were written.
struct APILimitsTests {
    @Test(arguments: [
        (VMLaunch(name: "../etc", memoryMiB: 128, cpus: 1), "name '../etc' must be 1 to 63"),
        (VMLaunch(name: "vm", memoryMiB: 1 << 40, cpus: 1), "memoryMiB must be 1 to"),
        (VMLaunch(name: "vm", memoryMiB: 128, cpus: 0), "cpus must be 1 to 255"),
        (VMLaunch(name: "vm", memoryMiB: 128, cpus: 1, disk: "relative.img"), "is not an absolute file path"),
        (VMLaunch(name: "vm-a.monitor", memoryMiB: 128, cpus: 1, disk: nil), "may not end in '.monitor'"),
        (VMLaunch(name: "vm", memoryMiB: 128, cpus: 1, machineType: "pc,accel=xen"), "machineType 'pc,accel=xen' must be"),
        (VMLaunch(name: "vm", memoryMiB: 128, cpus: 1, memoryImages: [.init(path: "", address: 0)]), "is not an absolute file path"),
    ])
    func aLaunchThatCannotBeStartedIsRefusedSayingWhy(_ launch: VMLaunch, _ says: String) {
        #expect(throws: TetherError.self) { try launch.validate() }
        do { try launch.validate() } catch { #expect(error.message.contains(says), "\(error.message)") }
    }

    @Test func aLaunchWithinTheBoundsPasses() throws {
        var launch = VMLaunch(name: "vm-a", memoryMiB: 128, cpus: 1, disk: "/var/lib/tether/vm-a.img", machineType: "pc-i440fx-7.2")
        launch.crashRegion = CrashRegion(firstSector: 1000, sectors: 64, marker: "CRASH")
        try launch.validate()
    }

    /// A comma in a path would end QEMU's option value there and start one of the path's choosing.
    @Test func aCommaInAPathStaysInThePath() throws {
        var spec = VMSpec(name: "vm", disk: "/images/a,format=qcow2,file.driver=ssh.img", diskFormat: .raw)
        spec.memoryImages = [("/images/b,x.bin", 0x1000)]
        let arguments = try spec.arguments(qmpSocket: "/run/q.sock")
        #expect(arguments.contains { $0.hasPrefix("file=/images/a,,format=qcow2,,file.driver=ssh.img,format=") }, "\(arguments)")
        #expect(arguments.contains { $0.hasPrefix("loader,file=/images/b,,x.bin,") }, "\(arguments)")
    }

    @Test(arguments: [
        ("046d:0825:AB/CD", DeviceSelector.product(vendorId: "046d", productId: "0825", serial: "AB/CD")),
        ("046d:0825", .product(vendorId: "046d", productId: "0825", serial: nil)),
        ("host-b/1-3", .port(DeviceRef(host: "host-b", id: "1-3"))),
        ("1A86:7523", .product(vendorId: "1a86", productId: "7523", serial: nil)),
        ("1a86:7523::x", .product(vendorId: "1a86", productId: "7523", serial: ":x")),
    ])
    func aSelectorReadsBackAsItWasWritten(_ text: String, _ selector: DeviceSelector) throws {
        #expect(try DeviceSelector(parsing: text) == selector)
        #expect(try DeviceSelector(parsing: selector.description) == selector)
    }

    /// Ids are ASCII hex, as sysfs writes them: fullwidth digits (which Swift's `isHexDigit`
    /// takes) or a letter past f name no device, and say so instead of matching none.
    @Test(arguments: ["\u{FF11}a86:7523", "1a8g:7523", "1a86:752", "1a86", "1a86:7523:", "héllo"])
    func aSelectorThatIsNoneIsRefused(_ text: String) {
        #expect(throws: TetherError.self) { try DeviceSelector(parsing: text) }
    }

    @Test(arguments: [("vm-a.b_c", true), ("", false), (String(repeating: "a", count: 63), true), (String(repeating: "a", count: 64), false),
                      ("vm a", false), ("vm/a", false), ("vmé", false), ("\u{FF41}", false)])
    func namesAreASCIILettersDigitsAndThreeMarks(_ name: String, _ valid: Bool) {
        #expect(APINames.isValid(name) == valid)
    }
}
