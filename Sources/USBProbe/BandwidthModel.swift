/// The periodic bandwidth an endpoint reserves, exactly as shared/spec/probe.md defines it.
public struct EndpointNeed: Sendable, Equatable {
    /// wMaxPacketSize bits 10..0 (the spec's maxPacketSize).
    public var maxPacketSize: Int
    public var transactionsPerInterval: Int
    public var bytesPerInterval: Int
    public var intervalMicroseconds: Int
    public var bytesPerSecond: Int
    /// How the descriptor departed from the USB spec and which of the spec's rules settled it.
    public var warnings: [String]
}

public enum BandwidthModel {
    /// `(b * 2_000_000 + i) / (2 * i)`: b * 1e6 / i rounded to nearest, halves up, in integers.
    public static func bytesPerSecond(bytesPerInterval b: Int, intervalMicroseconds i: Int) -> Int {
        precondition(i > 0, "a service interval is at least 125 us")
        return (b * 2_000_000 + i) / (2 * i)
    }

    /// The figure for one endpoint at the speed its device runs at.
    public static func need(of endpoint: EndpointDescriptor, at speed: USBSpeed) -> EndpointNeed {
        let raw = Int(endpoint.maxPacketSize)
        let size = raw & 0x7FF
        let extraBits = (raw >> 11) & 3
        var warnings: [String] = []
        let name = "endpoint \(hex(endpoint.address))"
        if raw & 0xE000 != 0 {
            warnings.append("\(name): wMaxPacketSize \(hex16(endpoint.maxPacketSize)) sets reserved bits 15..13; they are ignored")
        }
        let type = endpoint.transferType
        guard type.isPeriodic else {
            // Bulk and control reserve nothing; they are listed for completeness.
            return EndpointNeed(maxPacketSize: size, transactionsPerInterval: 1, bytesPerInterval: 0,
                                intervalMicroseconds: 0, bytesPerSecond: 0, warnings: warnings)
        }

        var transactions = 1
        var bytesPerInterval = size
        switch speed {
        case .low, .full:
            if extraBits != 0 {
                warnings.append("\(name): wMaxPacketSize \(hex16(endpoint.maxPacketSize)) asks for extra transactions, which only high speed has; ignored")
            }
        case .high:
            if extraBits == 3 {
                warnings.append("\(name): wMaxPacketSize \(hex16(endpoint.maxPacketSize)) asks for 4 transactions per microframe (reserved); counted as 3")
            }
            transactions = 1 + min(extraBits, 2)
            bytesPerInterval = size * transactions
        case .superSpeed, .superSpeedPlus, .superSpeedPlusX2:
            if let companion = endpoint.companion {
                let burst = Int(companion.maxBurst) + 1
                let mult = type == .isochronous ? Int(companion.attributes & 0x3) + 1 : 1
                transactions = burst * mult
                if type == .isochronous, companion.attributes & 0x80 != 0, let plus = companion.plusIsochronousBytesPerInterval {
                    // USB 3.2 9.6.8: with a SuperSpeedPlus isochronous companion, wBytesPerInterval
                    // is set to 1 and dwBytesPerInterval is the real figure.
                    bytesPerInterval = Int(plus)
                } else {
                    bytesPerInterval = Int(companion.bytesPerInterval)
                }
            } else {
                warnings.append("\(name): no SuperSpeed endpoint companion; wMaxPacketSize is used")
            }
        }

        let interval: Int
        let stated = Int(endpoint.interval)
        if type == .interrupt && !speed.usesMicroframes {
            if stated == 0 { warnings.append("\(name): bInterval 0 is not allowed; 1 ms is used") }
            interval = max(stated, 1) * 1000
        } else {
            let clamped = min(max(stated, 1), 16)
            if clamped != stated {
                warnings.append("\(name): bInterval \(stated) is outside 1..16; \(clamped) is used")
            }
            let frames = 1 << (clamped - 1)
            interval = speed.usesMicroframes ? frames * 125 : frames * 1000
        }
        return EndpointNeed(maxPacketSize: size, transactionsPerInterval: transactions, bytesPerInterval: bytesPerInterval,
                            intervalMicroseconds: interval,
                            bytesPerSecond: bytesPerSecond(bytesPerInterval: bytesPerInterval, intervalMicroseconds: interval),
                            warnings: warnings)
    }
}

func hex16(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
