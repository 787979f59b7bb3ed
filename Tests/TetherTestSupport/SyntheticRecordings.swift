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
