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
        var listed = Set<[Int]>()
        do {
            try context.withDevices { devices in
                for device in devices {
                    let bus = Int(libusb_get_bus_number(device))
                    let address = Int(libusb_get_device_address(device))
                    listed.insert([bus, address])
                    reports.append(report(device: device, context: context.pointer, options: options))
                }
            }
        } catch let error as TetherError {
            throw error
        } catch {
            throw TetherError(.internalError, "listing USB devices failed", cause: "\(error)")
        }
        if options.descriptorSource == .auto {
            for name in options.sysfs.deviceNames() {
                guard let facts = options.sysfs.facts(forUnlisted: name), !listed.contains([facts.bus, facts.address]) else { continue }
                reports.append(DeviceReport(facts: facts))
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
        var ports = [UInt8](repeating: 0, count: 8)
        let count = libusb_get_port_numbers(device, &ports, Int32(ports.count))
        let bus = Int(libusb_get_bus_number(device))
        let facts = DeviceFacts(bus: bus, address: Int(libusb_get_device_address(device)),
                                portNumbers: count > 0 ? ports.prefix(Int(count)).map(Int.init) : [],
                                speed: nil, activeConfiguration: nil, vendorID: 0, productID: 0, descriptors: .raw([]))
        self.init(bus: facts.bus, address: facts.address, portPath: facts.portPath, vendorId: 0, productId: 0,
                  speedMbps: nil, configuration: nil, periodicBytesPerSecond: nil, interfaces: [], error: error.description)
    }
}
