import CLibUSB
import TetherModel

/// Configurations as libusb parses them, for hosts where the raw bytes cannot be read.
enum LibUSBConfigurations {
    static func read(device: OpaquePointer, context: OpaquePointer, count: Int) throws(TetherError) -> [ConfigurationDescriptor] {
        var configurations: [ConfigurationDescriptor] = []
        for index in 0..<count {
            var config: UnsafeMutablePointer<libusb_config_descriptor>?
            try check(libusb_get_config_descriptor(device, UInt8(index), &config), "parse configuration #\(index)")
            guard let config else { continue }
            defer { libusb_free_config_descriptor(config) }
            configurations.append(convert(config.pointee, context: context))
        }
        return configurations
    }

    static func convert(_ c: libusb_config_descriptor, context: OpaquePointer) -> ConfigurationDescriptor {
        var alternates: [InterfaceDescriptor] = []
        for i in 0..<Int(c.bNumInterfaces) {
            let interface = c.interface[i]
            for a in 0..<Int(interface.num_altsetting) {
                let alt = interface.altsetting[a]
                var endpoints: [EndpointDescriptor] = []
                for e in 0..<Int(alt.bNumEndpoints) {
                    var endpoint = alt.endpoint[e]
                    var companion: SuperSpeedCompanion?
                    var ss: UnsafeMutablePointer<libusb_ss_endpoint_companion_descriptor>?
                    if libusb_get_ss_endpoint_companion_descriptor(context, &endpoint, &ss) == 0, let ss {
                        companion = SuperSpeedCompanion(maxBurst: ss.pointee.bMaxBurst, attributes: ss.pointee.bmAttributes,
                                                        bytesPerInterval: ss.pointee.wBytesPerInterval)
                        libusb_free_ss_endpoint_companion_descriptor(ss)
                    }
                    endpoints.append(EndpointDescriptor(address: endpoint.bEndpointAddress, attributes: endpoint.bmAttributes,
                                                        maxPacketSize: endpoint.wMaxPacketSize, interval: endpoint.bInterval,
                                                        companion: companion))
                }
                alternates.append(InterfaceDescriptor(number: alt.bInterfaceNumber, alternateSetting: alt.bAlternateSetting,
                                                      interfaceClass: alt.bInterfaceClass, interfaceSubclass: alt.bInterfaceSubClass,
                                                      interfaceProtocol: alt.bInterfaceProtocol,
                                                      declaredEndpointCount: alt.bNumEndpoints, endpoints: endpoints))
            }
        }
        return ConfigurationDescriptor(value: c.bConfigurationValue, attributes: c.bmAttributes, maxPower: c.MaxPower,
                                       declaredInterfaceCount: c.bNumInterfaces, alternateSettings: alternates)
    }
}
