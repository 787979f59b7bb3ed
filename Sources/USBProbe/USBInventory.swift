import CLibUSB
import TetherModel

/// The USB devices of this host with their figures, as `tether probe` lists them.
public enum USBInventory {
    /// Lists every device libusb lists (hubs too), plus any device the kernel has that libusb
    /// refused to list, so that a device with broken descriptors is reported, not hidden.
    /// A device whose facts cannot be gathered is reported with its error; the others are not affected.
    public static func probe(options: ProbeOptions = .init()) throws(TetherError) -> ProbeReport {
        let context = try LibUSBContext()
        var reports: [DeviceReport] = []
        var listed = Set<String>()
        do {
            try context.withDevices { devices in
                for device in devices {
                    let report = report(device: device, context: context.pointer, options: options)
                    listed.insert(SysfsUSB.name(bus: report.bus, portPath: report.portPath))
                    reports.append(report)
                }
            }
        } catch let error as TetherError {
            throw error
        } catch {
            throw TetherError(.internalError, "listing USB devices failed", cause: "\(error)")
        }
        if options.descriptorSource == .auto {
            for name in options.sysfs.deviceNames() where !listed.contains(name) {
                if let facts = options.sysfs.facts(forUnlisted: name) { reports.append(DeviceReport(facts: facts)) }
            }
        }
        return ProbeReport(devices: reports)
    }

    static func report(device: OpaquePointer, context: OpaquePointer, options: ProbeOptions) -> DeviceReport {
        do {
            return DeviceReport(facts: try DeviceFacts(device: device, context: context, options: options))
        } catch {
            return DeviceReport(unreadable: device, error: error)
        }
    }
}

extension DeviceReport {
    /// A device libusb lists but whose facts could not be gathered.
    init(unreadable device: OpaquePointer, error: TetherError) {
        let facts = DeviceFacts(bus: Int(libusb_get_bus_number(device)), address: Int(libusb_get_device_address(device)),
                                portNumbers: DeviceFacts.portNumbers(of: device),
                                speed: nil, activeConfiguration: nil, vendorID: 0, productID: 0, descriptors: .raw([]))
        self.init(bus: facts.bus, address: facts.address, portPath: facts.portPath, vendorId: 0, productId: 0,
                  speedMbps: nil, configuration: nil, periodicBytesPerSecond: nil, interfaces: [], error: error.description)
    }
}
