import Foundation
import Testing
import TetherTestKit
import TetherTestSupport
import USBProbe

/// `tether probe --json` on recordings of real devices, through real libusb under umockdev.
@Suite(.requires(Tools.hasUMockdev, "umockdev is not installed (apt-get install umockdev)"))
struct ProbeRecordingsTests {
    @Test(arguments: Fixtures.recordings)
    func everyFigureMatchesTheHandDerivedOne(_ name: String) async throws {
        let report = try await ProbeRunner.json(Fixtures.usb(name))
        let expected = try #require(ExpectedFigures.byRecording[name])
        #expect(report.devices.map(\.portPath).sorted() == expected.map(\.portPath).sorted())
        for device in expected {
            let actual = try #require(report.devices.first { $0.portPath == device.portPath }, "\(device.portPath) missing")
            #expect(actual.id == device.vendorProduct)
            #expect(actual.speedMbps == device.speedMbps)
            #expect(actual.configuration == 1)
            #expect(actual.error == nil)
            #expect(actual.warnings.isEmpty, "\(actual.warnings)")
            #expect(actual.periodicBytesPerSecond == device.periodicBytesPerSecond, "\(name) \(device.portPath)")
            #expect(Dictionary(uniqueKeysWithValues: actual.interfaces.map { ($0.number, $0.periodicBytesPerSecond) }) == device.interfaces)
            #expect(actual.flatEndpoints.sorted(by: order) == device.endpoints.sorted(by: order))
        }
    }

    @Test(.requires(Tools.hasLsusb, "lsusb is not installed (apt-get install usbutils)"), arguments: Fixtures.recordings)
    func descriptorFieldsAgreeWithLsusb(_ name: String) async throws {
        let report = try await ProbeRunner.json(Fixtures.usb(name))
        let lsusb = try await ProcessRunner.underUMockdev(Fixtures.usb(name), Tools.which("lsusb") ?? "lsusb", ["-v"])
        let theirs = LsusbEndpoint.parse(lsusb.stdout)
        var ours = Set<LsusbEndpoint>()
        for device in report.devices {
            for interface in device.interfaces {
                for alternate in interface.alternates {
                    for e in alternate.endpoints {
                        ours.insert(LsusbEndpoint(bus: device.bus, address: device.address, interface: interface.number,
                                                  alternate: alternate.setting, endpoint: e.address,
                                                  wMaxPacketSize: e.wMaxPacketSize, bInterval: e.bInterval))
                    }
                }
            }
        }
        #expect(!theirs.isEmpty, "lsusb printed no endpoints: \(lsusb.stderr)")
        #expect(ours == theirs, "only ours: \(ours.subtracting(theirs)); only lsusb's: \(theirs.subtracting(ours))")
    }

    /// libusb's own descriptor parser (the path on hosts without sysfs) gives the same figures.
    @Test(arguments: Fixtures.recordings)
    func libusbsParseGivesTheSameFigures(_ name: String) async throws {
        let strict = try await ProbeRunner.json(Fixtures.usb(name))
        let viaLibusb = try await ProbeRunner.json(Fixtures.usb(name), extra: ["--descriptor-source", "libusb"])
        #expect(strict.devices.map(\.periodicBytesPerSecond) == viaLibusb.devices.map(\.periodicBytesPerSecond))
        #expect(strict.devices.map(\.interfaces) == viaLibusb.devices.map(\.interfaces))
    }

    @Test func tableIsReadableAtAGlance() async throws {
        let result = try await ProcessRunner.underUMockdev(Fixtures.usb("logitech-c270"), Tools.product("tether"), ["probe"])
        #expect(result.status == 0)
        #expect(result.stdout == """
            PORT  BUS:ADDR  ID         SPEED     PERIODIC NEED  DEVICE
            1-0   1:1       1d6b:0002  480 Mb/s  16 B/s         -
            1-3   1:4       046d:0825  480 Mb/s  24.68 MB/s     -

            """)
    }

    @Test func jsonHasTheSpecsRequiredKeys() async throws {
        let result = try await ProcessRunner.underUMockdev(Fixtures.usb("logitech-c270"), Tools.product("tether"), ["probe", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let devices = try #require(object["devices"] as? [[String: Any]])
        let webcam = try #require(devices.first { $0["portPath"] as? String == "1-3" })
        for key in ["bus", "address", "portPath", "vendorId", "productId", "speedMbps", "configuration", "periodicBytesPerSecond", "interfaces"] {
            #expect(webcam[key] != nil, "missing \(key)")
        }
        #expect(webcam["vendorId"] as? Int == 1133)
        #expect(webcam["productId"] as? Int == 2085)
        let interface = try #require((webcam["interfaces"] as? [[String: Any]])?.first { $0["number"] as? Int == 1 })
        let alternate = try #require((interface["alternates"] as? [[String: Any]])?.first { $0["setting"] as? Int == 11 })
        let endpoint = try #require((alternate["endpoints"] as? [[String: Any]])?.first)
        #expect(endpoint["address"] as? Int == 129)
        #expect(endpoint["type"] as? String == "isochronous")
        #expect(endpoint["maxPacketSize"] as? Int == 1020)
        #expect(endpoint["transactionsPerInterval"] as? Int == 3)
        #expect(endpoint["bytesPerInterval"] as? Int == 3060)
        #expect(endpoint["intervalMicroseconds"] as? Int == 125)
        #expect(endpoint["bytesPerSecond"] as? Int == 24_480_000)
    }

    @Test func usageErrorsSayWhatIsWrong() async throws {
        let result = try await ProcessRunner.run(Tools.product("tether"), ["probe", "--events", "2"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--events goes with --watch"))
    }

    private func order(_ a: ExpectedEndpoint, _ b: ExpectedEndpoint) -> Bool {
        (a.interface, a.alternate, a.address) < (b.interface, b.alternate, b.address)
    }
}
