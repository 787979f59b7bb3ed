import Foundation
import USBProbe

/// JSON for `tether probe --json` and `--watch --json` (one object per line).
enum ProbeOutput {
    static func json(_ report: ProbeReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    struct WatchEvent: Encodable {
        var event: String
        var device: DeviceReport
    }

    static func json(_ event: HotplugWatcher.Event) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let value: WatchEvent
        switch event {
        case .arrived(let device): value = WatchEvent(event: "arrived", device: device)
        case .left(let device): value = WatchEvent(event: "left", device: device)
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
