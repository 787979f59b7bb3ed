import TetherModel
import Testing
import TetherTestSupport
@testable import USBProbe

private typealias B = DescriptorBuilder

/// Malformed descriptors: each gives a clear error or warning for its device, never a crash or a
/// hang. The figure is what Linux's USB core would configure (shared/spec/probe.md, "Quirky
/// descriptors"): nothing built on bytes that are not there, nothing dropped that the host keeps.
struct DescriptorParserTests {
    @Test func wellFormedDeviceHasItsFigureAndNoComplaint() {
        let report = B.report(B.serialAdapter)
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.error == nil)
        #expect(report.warnings.isEmpty)
        #expect(report.interfaces.first?.alternates.first?.endpoints.map(\.type) == [.bulk, .bulk, .interrupt])
    }

    /// The serial adapter's interrupt endpoint is its last descriptor: cut, it is not configured,
    /// and the two bulk endpoints before it reserve nothing.
    @Test func cutEndpointIsSkippedWithAWarningAndReservesNothing() {
        let bytes = Array(B.serialAdapter.dropLast(3))
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 0)
        #expect(report.interfaces.first?.alternates.first?.endpoints.map(\.address) == [0x82, 0x02])
        #expect(report.warnings.contains { $0.contains("descriptor 0x05 at byte 50 claims 7 bytes but only 4 remain (truncated)") },
                "points at the cut descriptor: \(report.warnings)")
        #expect(report.warnings.contains { $0.contains("wTotalLength 39 runs past the 36 bytes present") }, "\(report.warnings)")
    }

    /// A device whose last descriptor, a class-specific one after all its endpoints, claims one
    /// byte more than remains: Linux skips that descriptor and configures the rest.
    @Test func lastClassSpecificDescriptorOneByteTooLongKeepsTheFullFigure() {
        let body = B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1)
            + B.endpoint(0x82, type: 3, maxPacketSize: 16, interval: 2)
        let bytes = B.device() + B.configuration(interfaces: 1, body: body + [5, 0x25, 0x01, 0x00])
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 16_000)
        #expect(report.warnings.contains { $0.contains("descriptor 0x25 at byte 50 claims 5 bytes but only 4 remain") },
                "\(report.warnings)")
    }

    /// The same quirk in a real device: the Logitech C270's last descriptor is a class-specific
    /// audio endpoint descriptor; one byte too long, the webcam still gets its whole figure.
    @Test func realWebcamWithItsLastDescriptorOneByteTooLongKeepsItsFigure() throws {
        var bytes = try Self.webcam()
        let last = 2477
        #expect(bytes[last] == 7 && bytes[last + 1] == 0x25 && last + 7 == bytes.count, "the recording changed")
        bytes[last] = 8
        let report = B.report(bytes, speed: .high)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 24_677_000)
        #expect(report.warnings.contains { $0.contains("descriptor 0x25 at byte 2477 claims 8 bytes but only 7 remain") },
                "\(report.warnings)")
    }

    @Test func configurationCutAtADescriptorBoundaryUsesTheEndpointsPresent() {
        // The last endpoint is missing entirely; wTotalLength and bNumEndpoints still claim it.
        let bytes = Array(B.serialAdapter.dropLast(7))
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 0)
        #expect(report.warnings.contains { $0.contains("declares 3 endpoint(s) but 2 follow; the 2 present are used") },
                "\(report.warnings)")
    }

    /// bNumEndpoints claims two; the configuration ends after the first, which the host configures.
    @Test func endpointCountPastTheEndGivesWayToTheEndpointsPresent() {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 2) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1)
            + Array(B.endpoint(0x82, type: 3, maxPacketSize: 64, interval: 1).prefix(5)))
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.warnings.contains { $0.contains("declares 2 endpoint(s) but 1 follow") }, "\(report.warnings)")
    }

    /// bNumInterfaces claims two; wTotalLength promises them, the bytes hold one.
    @Test func interfaceCountPastTheEndGivesWayToTheInterfacesPresent() {
        let bytes = B.device() + B.configuration(interfaces: 2, totalLength: 50, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1))
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.configurations.first?.interfaces == 1)
        #expect(report.warnings.contains { $0.contains("bNumInterfaces is 2 but 1 interface(s) are present") }, "\(report.warnings)")
    }

    /// For every strict prefix of a real configuration, the figure is that of the endpoints
    /// wholly present (each interface at its largest alternate setting), with a warning; only a
    /// prefix without the configuration's 9-byte header is an error.
    @Test func everyStrictPrefixOfARealDeviceCountsTheEndpointsWhollyPresent() throws {
        let bytes = try Self.webcam()
        let full = B.report(bytes, speed: .high)
        #expect(full.periodicBytesPerSecond == 24_677_000)
        #expect(full.warnings.isEmpty)
        let perSecond = Dictionary(uniqueKeysWithValues: full.interfaces.flatMap { interface in
            interface.alternates.flatMap { alternate in
                alternate.endpoints.map { (EndpointKey(interface.number, alternate.setting, $0.address), $0.bytesPerSecond) }
            }
        })
        let endpoints = Self.endpointEnds(bytes)
        #expect(endpoints.count == 16, "the C270 has 16 endpoint descriptors")
        var figures = Set<Int>()
        for length in 0..<bytes.count {
            let report = B.report(Array(bytes.prefix(length)), speed: .high)
            guard length >= 18 + 9 else {
                #expect(report.periodicBytesPerSecond == nil, "a \(length)-byte prefix has no configuration header, yet a figure")
                #expect(report.error != nil)
                continue
            }
            var alternates: [Int: [Int: Int]] = [:]      // interface -> alternate -> sum
            for (key, end) in endpoints where end <= length {
                alternates[key.interface, default: [:]][key.alternate, default: 0] += try #require(perSecond[key])
            }
            let expected = alternates.values.reduce(0) { $0 + ($1.values.max() ?? 0) }
            figures.insert(expected)
            #expect(report.error == nil, "\(length) bytes: \(report.error ?? "")")
            #expect(report.periodicBytesPerSecond == expected, "a \(length)-byte prefix")
            #expect(report.warnings.contains { $0.contains("wTotalLength 2466 runs past the \(length - 18) bytes present") })
        }
        #expect(figures.count > 10, "the prefixes cross many endpoints: \(figures.sorted())")
        #expect(figures.contains(24_677_000), "the last descriptor carries no bandwidth")
    }

    @Test func zeroLengthDescriptorEndsTheConfigurationWhatCameBeforeCounts() {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 2) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1)
            + [0, 0x24, 0, 0] + B.endpoint(0x82, type: 3, maxPacketSize: 64, interval: 1))
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 8_000, "the endpoint after the bad descriptor is not configured")
        #expect(report.warnings.contains { $0.contains("descriptor at byte 43 has bLength 0; it and the 11 byte(s) from it on are skipped") },
                "\(report.warnings)")
    }

    @Test(arguments: [UInt8(0), 1])
    func interfaceWithBLengthUnderTwoLeavesAConfigurationWithNothing(_ length: UInt8) {
        var bytes = B.serialAdapter
        bytes[18 + 9] = length   // the interface descriptor's bLength
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 0)
        #expect(report.interfaces.isEmpty)
        #expect(report.warnings.contains { $0.contains("bLength \(length)") }, "\(report.warnings)")
    }

    @Test func strayByteAtTheEndIsIgnoredWithAWarning() {
        let bytes = B.serialAdapter + [0x09]
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.warnings.contains { $0.contains("a stray byte at byte 57") }, "\(report.warnings)")
    }

    @Test(arguments: [0, 5, 8, 17, 18 + 8])
    func aConfigurationWhoseHeaderCannotBeReadIsAnError(_ length: Int) {
        let report = B.report(Array(B.serialAdapter.prefix(length)))
        #expect(report.periodicBytesPerSecond == nil)
        #expect(report.error != nil)
    }

    @Test func aConfigurationHeaderWhoseBLengthRunsPastTheEndIsAnError() {
        var bytes = B.serialAdapter
        bytes[18] = 60      // the configuration descriptor's bLength; 39 bytes are there
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == nil)
        #expect(report.error?.contains("expected a configuration descriptor at byte 18, found bLength 60") == true,
                "\(report.error ?? "")")
    }

    /// All of wTotalLength's promise may not arrive: the host parses what did.
    @Test func totalLengthPastTheEndIsParsedAsFarAsTheBytesGo() {
        let bytes = B.device() + B.configuration(interfaces: 1, totalLength: 200, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1))
        let report = B.report(bytes)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.warnings.contains { $0.contains("wTotalLength 200 runs past the 25 bytes present") }, "\(report.warnings)")
    }

    @Test func totalLengthShortOfTheDescriptorsIsAWarning() {
        let bytes = B.device() + B.configuration(interfaces: 1, totalLength: 9, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1))
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.warnings.contains { $0.contains("wTotalLength 9 is less than") })
    }

    @Test func endpointBeforeAnyInterfaceIsIgnoredWithAWarning() {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.endpoint(0x83, type: 3, maxPacketSize: 64, interval: 1)
            + B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1))
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.warnings.contains { $0.contains("endpoint 0x83") && $0.contains("no interface") })
    }

    @Test(arguments: [(UInt8(0), 1_000), (UInt8(255), 255_000)])
    func extremeIntervalsFollowTheSpecAndWarnWhereInvalid(_ interval: UInt8, _ micros: Int) {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 64, interval: interval))
        let report = B.report(bytes)
        let endpoint = report.interfaces.first?.alternates.first?.endpoints.first
        #expect(endpoint?.intervalMicroseconds == micros)
        #expect(report.warnings.contains { $0.contains("bInterval 0") } == (interval == 0))
    }

    @Test func reservedPacketSizeBitsAreMaskedAndReported() {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 1, maxPacketSize: 0xE000 | 0x13FC, interval: 1))
        let report = B.report(bytes, speed: .high)
        #expect(report.periodicBytesPerSecond == 24_480_000)
        #expect(report.warnings.contains { $0.contains("reserved bits") })
    }

    @Test func moreEndpointsThanDeclaredFollowsTheHostAndWarns() {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1)
            + B.endpoint(0x82, type: 3, maxPacketSize: 8, interval: 1))
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == 16_000)
        #expect(report.warnings.contains { $0.contains("declares 1 endpoint(s) but 2 follow") })
    }

    @Test func shortDeviceDescriptorIsAnError() {
        let report = B.report(Array(B.serialAdapter.prefix(10)))
        #expect(report.error?.contains("device descriptor is 10 bytes") == true)
        #expect(report.vendorId == 0x1234, "the IDs from enumeration are kept")
    }

    @Test func brokenInactiveConfigurationDoesNotSpoilTheActiveOne() {
        let second = B.configuration(value: 2, interfaces: 1, body: B.interface(0, endpoints: 2) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1))
        let bytes = B.serialAdapter + second
        var device = bytes
        device[17] = 2
        let report = B.report(device)
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.configurations.map(\.value) == [1, 2])
        #expect(report.warnings.contains { $0.hasPrefix("configuration 2:") })
    }

    @Test func superSpeedCompanionIsAttachedToItsEndpoint() {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 1, maxPacketSize: 1024, interval: 1)
            + B.companion(maxBurst: 3, attributes: 0, bytesPerInterval: 4096))
        let report = B.report(bytes, speed: .superSpeed)
        #expect(report.periodicBytesPerSecond == 32_768_000)
        #expect(report.warnings.isEmpty)
    }

    @Test func unconfiguredDeviceIsFiguredOnItsFirstConfigurationWithAWarning() {
        let report = B.report(B.serialAdapter, active: nil)
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.configuration == nil)
        #expect(report.warnings.contains { $0.contains("not configured") })
    }

    @Test func unknownSpeedIsAnError() {
        let report = DeviceReport(facts: DeviceFacts(bus: 1, address: 4, portNumbers: [3], speed: nil, activeConfiguration: 1,
                                                     vendorID: 0, productID: 0, descriptors: .raw(B.serialAdapter)))
        #expect(report.periodicBytesPerSecond == nil)
        #expect(report.error?.contains("speed") == true)
    }

    /// Seeded random corruption of real descriptors: always terminates, never traps, and any
    /// figure it gives comes with its configuration parsed without error.
    @Test func randomCorruptionNeverCrashes() throws {
        var generator = SplitMix64(seed: 0x7E7E_5EED)
        for name in Fixtures.recordings {
            let recording = try UMockdevRecording(contentsOf: Fixtures.usb(name))
            for block in recording.usbDevices {
                let bytes = try #require(block.descriptors)
                for _ in 0..<300 {
                    var mutated = bytes
                    for _ in 0..<Int(generator.next() % 4 + 1) {
                        mutated[Int(generator.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: generator.next())
                    }
                    let cut = Int(generator.next() % UInt64(mutated.count + 1))
                    let report = B.report(Array(mutated.prefix(cut)), speed: .high)
                    #expect(report.periodicBytesPerSecond == nil || report.error == nil, "seed 0x7E7E5EED, \(name)")
                }
            }
        }
    }
}

extension DescriptorParserTests {
    /// The kernel skips a short interface (with its endpoints) or endpoint, and gives an endpoint
    /// whose companion is cut short none: 8 bytes every 125 us at SuperSpeed, either way.
    @Test(arguments: [(UInt8(4), UInt8(8), "interface descriptor at byte 43 has bLength 8"),
                      (5, 6, "endpoint descriptor at byte 43 has bLength 6"),
                      (0x30, 5, "SuperSpeed endpoint companion at byte 43 is cut short: 5 bytes")])
    func descriptorTooShortForItsTypeIsSkippedAsTheHostSkipsIt(_ type: UInt8, _ length: UInt8, _ says: String) {
        let short = [length, type] + [UInt8](repeating: 0x40, count: Int(length) - 2)
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1) + short
            + (type == 4 ? B.endpoint(0x82, type: 3, maxPacketSize: 64, interval: 1) : []))
        let report = B.report(bytes, speed: .superSpeed)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 64_000)
        #expect(report.warnings.contains { $0.contains(says) }, "\(report.warnings)")
    }

    /// usb_parse_ss_endpoint_companion checks the bytes left, not bLength: a companion that says
    /// 5 bytes but has 6 behind it is read whole (wBytesPerInterval 0x0400 here).
    @Test func shortCompanionWithBytesBehindItIsReadAsTheHostReadsIt() {
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 1024, interval: 1)
            + [5, 0x30, 0, 0, 0x00] + [4, 0x24, 0, 0])
        let report = B.report(bytes, speed: .superSpeed)
        #expect(report.error == nil, "\(report.error ?? "")")
        #expect(report.periodicBytesPerSecond == 1024 * 8_000)
        #expect(report.warnings.contains { $0.contains("has bLength 5; it needs 6. Its 6 bytes are read anyway") }, "\(report.warnings)")
    }

    struct EndpointKey: Hashable {
        var interface: Int, alternate: Int, address: Int
        init(_ interface: Int, _ alternate: Int, _ address: Int) {
            self.interface = interface
            self.alternate = alternate
            self.address = address
        }
    }

    static func webcam() throws -> [UInt8] {
        let recording = try UMockdevRecording(contentsOf: Fixtures.usb("logitech-c270"))
        return try #require(recording.usbDevices.first { $0.attribute("idVendor") == "046d" }?.descriptors)
    }

    /// Each endpoint descriptor of a well-formed device and the byte just past it, found by
    /// stepping over descriptors by their bLength (independently of the parser under test).
    static func endpointEnds(_ bytes: [UInt8]) -> [(key: EndpointKey, end: Int)] {
        var ends: [(key: EndpointKey, end: Int)] = []
        var interface = (number: -1, alternate: -1)
        var position = Int(bytes[0])
        while position + 1 < bytes.count, bytes[position] >= 2 {
            let length = Int(bytes[position])
            switch bytes[position + 1] {
            case 4: interface = (Int(bytes[position + 2]), Int(bytes[position + 3]))
            case 5: ends.append((EndpointKey(interface.number, interface.alternate, Int(bytes[position + 2])), position + length))
            default: break
            }
            position += length
        }
        return ends
    }
}
