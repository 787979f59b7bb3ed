import TetherModel
import USBProbe

/// The host's attachable USB devices, as the agent registers them.
public enum DeviceInventory {
    /// Devices with figures; one whose descriptors cannot be read is left out (and logged by
    /// the probe): nothing can be decided for it.
    @Sendable public static func probe() throws(TetherError) -> [RegisteredDevice] {
        registered(try USBInventory.probe())
    }

    /// One mapping from the probe's report to what the controller decides on.
    public static func registered(_ probe: ProbeReport) -> [RegisteredDevice] {
        probe.devices.compactMap { report in
            guard report.error == nil, !report.isHub else { return nil }
            return RegisteredDevice(id: report.portPath, vendorId: report.vendorHex, productId: report.productHex,
                                    serial: report.serial.flatMap(usableSerial), product: report.product,
                                    periodicBytesPerSecond: report.periodicBytesPerSecond ?? 0, bus: report.bus, address: report.address)
        }
    }

    /// A serial the API carries (`VID:PID:SERIAL`): an empty one, or one with control
    /// characters (a device's string descriptor can hold anything), names nothing and is left out.
    static func usableSerial(_ serial: String) -> String? {
        guard !serial.isEmpty, serial.utf8.count <= 255, !serial.unicodeScalars.contains(where: { $0.value < 0x20 }) else { return nil }
        return serial
    }
}
