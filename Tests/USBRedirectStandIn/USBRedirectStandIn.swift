import Foundation
import TetherTestSupport
import USBProbe

/// Stands in for Debian's `usbredirect` where no real device exists (tests, the demo): takes
/// its command line (`--device BUS-ADDRESS|VID:PID --as HOST:PORT`), finds that device in the
/// umockdev recording named by TETHER_USBREDIR_RECORDING, and serves it with the usbredir
/// protocol until killed. usbredirect itself needs a real device: under umockdev it stops
/// with "Error starting usbredirhost".
@main
struct USBRedirectStandIn {
    static func main() throws {
        let arguments = CommandLine.arguments
        func value(_ flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        }
        guard let device = value("--device"), let listen = value("--as"), let colon = listen.lastIndex(of: ":"),
              let port = Int(listen[listen.index(after: colon)...]) else {
            FileHandle.standardError.write(Data("usage: usbredir-standin --device BUS-ADDRESS|VID:PID --as HOST:PORT\n".utf8))
            exit(2)
        }
        guard let path = ProcessInfo.processInfo.environment["TETHER_USBREDIR_RECORDING"] else {
            FileHandle.standardError.write(Data("usbredir-standin: set TETHER_USBREDIR_RECORDING to a umockdev recording\n".utf8))
            exit(2)
        }
        let recording = try UMockdevRecording(contentsOf: URL(fileURLWithPath: path))
        let block = recording.usbDevices.first { block in
            let parts = device.split(separator: device.contains(":") ? ":" : "-").map(String.init)
            guard parts.count == 2 else { return false }
            if device.contains(":") {
                return block.attribute("idVendor") == parts[0].lowercased() && block.attribute("idProduct") == parts[1].lowercased()
            }
            return block.attribute("busnum") == parts[0] && block.attribute("devnum") == parts[1]
        }
        guard let block, let descriptors = block.descriptors else {
            FileHandle.standardError.write(Data("usbredir-standin: no device \(device) in \(path)\n".utf8))
            exit(1)
        }
        let speed = block.attribute("speed").flatMap(USBSpeed.init(sysfsSpeed:)) ?? .full
        let peer = try USBRedirPeer(descriptors: descriptors, speed: speed, port: port)
        FileHandle.standardError.write(Data("usbredir-standin: serving \(device) on 127.0.0.1:\(peer.port)\n".utf8))
        while true { sleep(3600) }
    }
}
