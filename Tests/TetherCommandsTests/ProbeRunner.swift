import Foundation
import Testing
import TetherTestSupport
import USBProbe

/// Runs the built `tether probe` on a recording, as a user would.
enum ProbeRunner {
    static func json(_ recording: URL, extra: [String] = []) async throws -> ProbeReport {
        let result = try await ProcessRunner.underUMockdev(recording, Tools.product("tether"), ["probe", "--json"] + extra, timeout: 60)
        try #require(!result.timedOut, "tether probe hung on \(recording.lastPathComponent)")
        try #require(result.status == 0, "tether probe failed: \(result.stderr)")
        return try JSONDecoder().decode(ProbeReport.self, from: Data(result.stdout.utf8))
    }
}

/// lsusb -v, an independent parser (usbutils) of the same recording, reduced to the fields the
/// figures stand on: wMaxPacketSize and bInterval per endpoint.
struct LsusbEndpoint: Hashable, CustomStringConvertible {
    var bus: Int, address: Int, interface: Int, alternate: Int, endpoint: Int, wMaxPacketSize: Int, bInterval: Int
    var description: String {
        "\(bus):\(address) if\(interface) alt\(alternate) ep\(endpoint) wMaxPacketSize \(wMaxPacketSize) bInterval \(bInterval)"
    }

    static func parse(_ text: String) -> Set<LsusbEndpoint> {
        var result = Set<LsusbEndpoint>()
        var bus = 0, address = 0, interface = 0, alternate = 0, endpoint = 0, packet = 0
        for raw in text.split(separator: "\n") {
            let words = raw.split(separator: " ")
            guard let key = words.first else { continue }
            func number(_ at: Int) -> Int? {
                guard words.count > at else { return nil }
                let text = String(words[at]).trimmingCharacters(in: CharacterSet(charactersIn: ":"))
                return text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
            }
            switch key {
            case "Bus": bus = number(1) ?? 0; address = number(3) ?? 0
            case "bInterfaceNumber": interface = number(1) ?? 0
            case "bAlternateSetting": alternate = number(1) ?? 0
            case "bEndpointAddress": endpoint = number(1) ?? 0
            case "wMaxPacketSize": packet = number(1) ?? 0
            case "bInterval":
                result.insert(LsusbEndpoint(bus: bus, address: address, interface: interface, alternate: alternate,
                                            endpoint: endpoint, wMaxPacketSize: packet, bInterval: number(1) ?? 0))
            default: break
            }
        }
        return result
    }
}

extension DeviceReport {
    /// Every endpoint of the active configuration, flattened for comparison.
    var flatEndpoints: [ExpectedEndpoint] {
        interfaces.flatMap { i in
            i.alternates.flatMap { a in
                a.endpoints.map { ExpectedEndpoint(i.number, a.setting, $0.address, $0.bytesPerInterval, $0.intervalMicroseconds, $0.bytesPerSecond) }
            }
        }
    }
}
