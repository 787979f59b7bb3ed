import Foundation

extension UMockdevRecording {
    /// A recording of `count` devices, each a copy of a recorded real device (cycling through
    /// the fixtures), spread over buses of at most 100 devices with a root hub each.
    public static func many(_ count: Int) throws -> UMockdevRecording {
        var templates: [(speed: String, bytes: [UInt8])] = []
        for name in Fixtures.recordings {
            for block in try UMockdevRecording(contentsOf: Fixtures.usb(name)).usbDevices where block.attribute("devpath") != "0" {
                if let bytes = block.descriptors, block.attribute("bDeviceClass") != "09" {
                    templates.append((block.attribute("speed") ?? "480", bytes))
                }
            }
        }
        var blocks: [Block] = []
        let perBus = 100
        for bus in 1...max(1, (count + perBus - 1) / perBus) {
            blocks += rootHub(bus: bus, pciSlot: String(format: "0000:00:%02x.0", bus))
        }
        for i in 0..<count {
            let template = templates[i % templates.count]
            let bus = 1 + i / perBus
            blocks.append(deviceBlock(bus: bus, address: 2 + i % perBus, ports: [1 + i % perBus], speed: template.speed,
                                      descriptors: template.bytes, pciSlot: String(format: "0000:00:%02x.0", bus)))
        }
        return UMockdevRecording(blocks: blocks)
    }
}

extension UMockdevRecording {
    /// Several recorded devices behind one root hub, each moved to a port of its own (1-3,
    /// 1-4, ...; every fixture was recorded at 1-3): what one host with a webcam and a serial
    /// dongle plugged in looks like. The root hub and its PCI parent come from the first.
    public static func onOneBus(_ names: [String]) throws -> UMockdevRecording {
        var blocks: [Block] = []
        for (i, name) in names.enumerated() {
            let recording = try UMockdevRecording(contentsOf: Fixtures.usb(name))
            let port = 3 + i, address = 4 + i
            for block in recording.blocks {
                let isDevice = block.syspath.contains("/usb1/1-3")
                if !isDevice && i > 0 { continue }
                guard isDevice else {
                    blocks.append(block)
                    continue
                }
                let lines = block.lines.map { line -> String in
                    line.replacingOccurrences(of: "/usb1/1-3", with: "/usb1/1-\(port)")
                        .replacingOccurrences(of: "1-3:", with: "1-\(port):")
                        .replacingOccurrences(of: "bus/usb/001/004", with: String(format: "bus/usb/001/%03d", address))
                        .replacingOccurrences(of: "E: DEVNUM=004", with: String(format: "E: DEVNUM=%03d", address))
                        .replacingOccurrences(of: "A: devnum=4\\n", with: "A: devnum=\(address)\\n")
                        .replacingOccurrences(of: "A: devpath=3\\n", with: "A: devpath=\(port)\\n")
                }
                blocks.append(Block(lines: lines))
            }
        }
        return UMockdevRecording(blocks: blocks)
    }
}
