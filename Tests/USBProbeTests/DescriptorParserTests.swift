import Testing
import TetherTestSupport
@testable import USBProbe

private typealias B = DescriptorBuilder

/// Malformed descriptors: each gives a clear error or warning for its device, never a crash,
/// a hang or a figure built on bytes that are not there.
struct DescriptorParserTests {
    @Test func wellFormedDeviceHasItsFigureAndNoComplaint() {
        let report = B.report(B.serialAdapter)
        #expect(report.periodicBytesPerSecond == 8_000)
        #expect(report.error == nil)
        #expect(report.warnings.isEmpty)
        #expect(report.interfaces.first?.alternates.first?.endpoints.map(\.type) == [.bulk, .bulk, .interrupt])
    }

    @Test func truncatedConfigurationIsAnErrorWithNoFigure() {
        let bytes = Array(B.serialAdapter.dropLast(3))
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == nil)
        let error = report.error ?? ""
        #expect(error.contains("truncated"))
        #expect(error.contains("byte 50"), "points at the cut descriptor: \(error)")
    }

    @Test func configurationCutAtADescriptorBoundaryIsAnError() {
        // The last endpoint is missing entirely; wTotalLength still claims it.
        let bytes = Array(B.serialAdapter.dropLast(7))
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == nil)
        #expect(report.error?.contains("declares 3 endpoint(s); only 2") == true, "\(report.error ?? "")")
    }

    @Test func everyStrictPrefixOfARealDeviceIsRefusedNeverUnderstated() throws {
        let recording = try UMockdevRecording(contentsOf: Fixtures.usb("logitech-c270"))
        let bytes = try #require(recording.usbDevices.first { $0.attribute("idVendor") == "046d" }?.descriptors)
        let full = B.report(bytes, speed: .high)
        #expect(full.periodicBytesPerSecond == 24_677_000)
        for length in 0..<bytes.count {
            let report = B.report(Array(bytes.prefix(length)), speed: .high)
            #expect(report.periodicBytesPerSecond == nil, "a \(length)-byte prefix gave a figure")
            #expect(report.error != nil)
        }
    }

    @Test func zeroLengthDescriptorStopsTheParseWithAnError() {
        var bytes = B.serialAdapter
        bytes[18 + 9] = 0   // the interface descriptor's bLength
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == nil)
        #expect(report.error?.contains("bLength 0") == true)
    }

    /// Even when every declared interface and endpoint is present, the missing bytes may hold
    /// further alternate settings (nothing counts those), so no figure is given.
    @Test func totalLengthPastTheEndIsAnError() {
        let bytes = B.device() + B.configuration(interfaces: 1, totalLength: 200, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1))
        let report = B.report(bytes)
        #expect(report.periodicBytesPerSecond == nil)
        #expect(report.error?.contains("wTotalLength 200 runs past the 25 bytes present") == true, "\(report.error ?? "")")
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
    @Test(arguments: [(UInt8(4), UInt8(8), "interface descriptor"), (5, 6, "endpoint descriptor"),
                      (0x30, 5, "SuperSpeed endpoint companion")])
    func descriptorTooShortForItsTypeIsAnError(_ type: UInt8, _ length: UInt8, _ name: String) {
        let short = [length, type] + [UInt8](repeating: 0, count: Int(length) - 2)
        let bytes = B.device() + B.configuration(interfaces: 1, body:
            B.interface(0, endpoints: 1) + B.endpoint(0x81, type: 3, maxPacketSize: 8, interval: 1) + short)
        let report = B.report(bytes, speed: .superSpeed)
        #expect(report.periodicBytesPerSecond == nil)
        #expect(report.error?.contains("\(name) at byte 43 has bLength \(length)") == true, "\(report.error ?? "")")
    }
}
