import USBProbe

/// The table a person reads at a glance: one device a line, the figure that matters in the
/// middle, and anything wrong spelled out underneath.
enum ProbeTable {
    static func render(_ report: ProbeReport, verbose: Bool) -> String {
        var rows: [[String]] = [["PORT", "BUS:ADDR", "ID", "SPEED", "PERIODIC NEED", "DEVICE"]]
        for device in report.devices {
            rows.append([device.portPath, "\(device.bus):\(device.address)", device.id, speed(device.speedMbps),
                         device.periodicBytesPerSecond.map(rate) ?? "error", name(device)])
        }
        var out = columns(rows)
        if verbose {
            for device in report.devices where !device.interfaces.isEmpty {
                out += "\n\(device.portPath) \(device.id) configuration \(device.configuration.map(String.init) ?? "-"):\n"
                for interface in device.interfaces {
                    out += "  interface \(interface.number): \(rate(interface.periodicBytesPerSecond))\n"
                    for alternate in interface.alternates {
                        out += "    alt \(alternate.setting): \(rate(alternate.periodicBytesPerSecond))\n"
                        for e in alternate.endpoints {
                            let detail = e.type.isPeriodic
                                ? "\(e.transactionsPerInterval)x\(e.maxPacketSize) B every \(interval(e.intervalMicroseconds)) = \(rate(e.bytesPerSecond))"
                                : "\(e.maxPacketSize) B packets, no reservation"
                            out += "      ep \(hexByte(e.address)) \(e.direction) \(e.type.rawValue): \(detail)\n"
                        }
                    }
                }
            }
        }
        var notes = ""
        for device in report.devices {
            if let error = device.error { notes += "\(device.portPath) \(device.id): error: \(error)\n" }
            for warning in device.warnings { notes += "\(device.portPath) \(device.id): warning: \(warning)\n" }
        }
        return notes.isEmpty ? out : out + "\n" + notes
    }

    static func line(for event: HotplugWatcher.Event) -> String {
        switch event {
        case .arrived(let d):
            let figure = d.periodicBytesPerSecond.map(rate) ?? "error: \(d.error ?? "unknown")"
            return "+ \(d.portPath) \(d.id) \(speed(d.speedMbps)) \(figure) \(name(d))"
        case .left(let d):
            return "- \(d.portPath) \(d.id) \(name(d))"
        }
    }

    static func name(_ d: DeviceReport) -> String {
        let words = [d.manufacturer, d.product].compactMap { $0 }.joined(separator: " ")
        return words.isEmpty ? "-" : words
    }

    static func speed(_ mbps: Double?) -> String {
        guard let mbps else { return "?" }
        return mbps == 1.5 ? "1.5 Mb/s" : "\(Int(mbps)) Mb/s"
    }

    /// Decimal units, as link speeds are quoted: 24,677,000 B/s is 24.68 MB/s.
    static func rate(_ bytesPerSecond: Int) -> String {
        let b = Double(bytesPerSecond)
        switch bytesPerSecond {
        case 0: return "0"
        case ..<1_000: return "\(bytesPerSecond) B/s"
        case ..<1_000_000: return fixed(b / 1_000) + " kB/s"
        default: return fixed(b / 1_000_000) + " MB/s"
        }
    }

    static func fixed(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }

    static func interval(_ microseconds: Int) -> String {
        microseconds < 1000 || microseconds % 1000 != 0 ? "\(microseconds) us" : "\(microseconds / 1000) ms"
    }

    static func hexByte(_ value: Int) -> String {
        "0x" + (value < 16 ? "0" : "") + String(value, radix: 16)
    }

    static func columns(_ rows: [[String]]) -> String {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
