import Foundation
import USBProbe

/// The device end of the usbredir protocol (usbredirproto.h, version 0.7), just enough to
/// announce a recorded device (for demos and tests, where no real device can be exported): it listens on the loopback, greets the VM's usb-redir chardev
/// when it connects, and sends the device's endpoints, interfaces and connect message, taken
/// from the recording's descriptors. It answers no transfers: with no guest OS, none come.
public final class USBRedirPeer: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var connected = false
    private var closedByVM = false
    private var connections = 0

    // Message types of usbredirproto.h, and the capabilities usbredirhost announces, which QEMU
    // needs to take the device as announced (without them it shows a placeholder at 1.5 Mb/s):
    // connect_device_version (1), ep_info_max_packet_size (4), 64bits_ids (5), 32bits_bulk_length (6).
    static let hello: UInt32 = 0, deviceConnect: UInt32 = 1, interfaceInfo: UInt32 = 4, epInfo: UInt32 = 5
    static let capabilities: UInt32 = 1 << 1 | 1 << 4 | 1 << 5 | 1 << 6

    /// Announces the first non-hub device of the recording's descriptors, at `speed`, listening
    /// on 127.0.0.1:`port` (0: any free port).
    public init(descriptors: [UInt8], speed: USBSpeed, port requested: Int = 0) throws {
        let parsed = DescriptorParser.parseDevice(descriptors)
        guard let device = parsed.device, let configuration = parsed.configurations.first else {
            throw POSIXError(.EINVAL)
        }
        let (fd, port) = try LoopbackListener.open(port: requested, backlog: 1)   // one VM at a time
        listener = fd
        self.port = port

        let messages = Self.announcement(device: device, configuration: configuration, speed: speed)
        // One VM connection at a time, again and again: after a live migration the VM's new
        // host connects anew, and is told about the device again, as usbredirhost would.
        Thread.detachNewThread { [self] in
            while true {
                let vm = accept(fd, nil, nil)
                guard vm >= 0 else { return }
                lock.withLock {
                    connected = true
                    closedByVM = false
                    connections += 1
                }
                // The VM's hello first (header: type, length, id), then ours and the device.
                var header = [UInt8](repeating: 0, count: 12)
                guard Self.readFully(vm, &header) else { finish(vm); continue }
                var payload = [UInt8](repeating: 0, count: Int(Self.le32(header, 4)))
                guard Self.readFully(vm, &payload) else { finish(vm); continue }
                for message in messages { _ = message.withUnsafeBytes { write(vm, $0.baseAddress, $0.count) } }
                // Drain until the VM hangs up (device_del closes the chardev's socket).
                var sink = [UInt8](repeating: 0, count: 4096)
                while read(vm, &sink, sink.count) > 0 {}
                finish(vm)
            }
        }
    }

    private func finish(_ fd: Int32) {
        close(fd)
        lock.withLock { closedByVM = true }
    }

    public var isConnected: Bool { lock.withLock { connected && !closedByVM } }
    public var wasClosedByVM: Bool { lock.withLock { closedByVM } }
    /// How many times a VM has connected.
    public var connectionCount: Int { lock.withLock { connections } }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// A message after the hellos: both sides have 64bits_ids, so the id field is 8 bytes.
    static func message(_ type: UInt32, _ payload: [UInt8]) -> [UInt8] {
        le32(type) + le32(UInt32(payload.count)) + le32(0) + le32(0) + payload
    }

    /// hello, ep_info, interface_info, device_connect: what usbredirhost sends for a device.
    static func announcement(device: DeviceDescriptor, configuration: ConfigurationDescriptor, speed: USBSpeed) -> [[UInt8]] {
        var version = Array("tether-test-peer".utf8)
        version += [UInt8](repeating: 0, count: 64 - version.count)
        // The hello goes before capabilities are agreed, so its id field is still 4 bytes.
        let helloPayload = version + le32(capabilities)
        let hello = le32(Self.hello) + le32(UInt32(helloPayload.count)) + le32(0) + helloPayload

        // ep_info: per endpoint index ((address & 0x80) >> 3 | number): type, interval, interface.
        var types = [UInt8](repeating: 255, count: 32), intervals = [UInt8](repeating: 0, count: 32)
        var interfaces = [UInt8](repeating: 0, count: 32), packetSizes = [UInt16](repeating: 0, count: 32)
        types[0] = 0
        types[16] = 0   // control endpoint 0, both directions
        packetSizes[0] = UInt16(device.maxPacketSize0)
        packetSizes[16] = UInt16(device.maxPacketSize0)
        let first = configuration.alternateSettings.filter { $0.alternateSetting == 0 }
        for alternate in first {
            for endpoint in alternate.endpoints {
                let index = Int((endpoint.address & 0x80) >> 3 | (endpoint.address & 0x0F))
                types[index] = endpoint.attributes & 0x03
                intervals[index] = endpoint.interval
                interfaces[index] = alternate.number
                packetSizes[index] = endpoint.maxPacketSize
            }
        }
        let epInfo = message(Self.epInfo, types + intervals + interfaces + packetSizes.flatMap(le16))

        var numbers = [UInt8](repeating: 0, count: 32), classes = [UInt8](repeating: 0, count: 32)
        var subclasses = [UInt8](repeating: 0, count: 32), protocols = [UInt8](repeating: 0, count: 32)
        for (i, alternate) in first.prefix(32).enumerated() {
            numbers[i] = alternate.number
            classes[i] = alternate.interfaceClass
            subclasses[i] = alternate.interfaceSubclass
            protocols[i] = alternate.interfaceProtocol
        }
        let interfaceInfo = message(Self.interfaceInfo, le32(UInt32(first.count)) + numbers + classes + subclasses + protocols)

        let speedCode: UInt8 = switch speed {
        case .low: 0
        case .full: 1
        case .high: 2
        default: 3
        }
        let connect = message(Self.deviceConnect, [speedCode, device.deviceClass, device.deviceSubclass, device.deviceProtocol]
                              + le16(device.vendorID) + le16(device.productID) + le16(device.deviceVersion))
        return [hello, epInfo, interfaceInfo, connect]
    }

    static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    static func readFully(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}
