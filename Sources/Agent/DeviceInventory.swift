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
                                    serial: report.serial, product: report.product,
                                    periodicBytesPerSecond: report.periodicBytesPerSecond ?? 0, bus: report.bus, address: report.address)
        }
    }
}
