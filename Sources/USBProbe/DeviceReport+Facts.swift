extension DeviceReport {
    /// The figures of shared/spec/probe.md for one device: a pure function of what the host knows.
    public init(facts: DeviceFacts) {
        let parse: DescriptorParser.Result
        switch facts.descriptors {
        case .raw(let bytes):
            parse = DescriptorParser.parseDevice(bytes)
        case .parsed(let device, let configurations):
            parse = .init(device: device, configurations: configurations, issues: [])
        }
        let device = parse.device
        self.init(
            bus: facts.bus, address: facts.address, portPath: facts.portPath,
            vendorId: Int(device?.vendorID ?? UInt16(truncatingIfNeeded: facts.vendorID)),
            productId: Int(device?.productID ?? UInt16(truncatingIfNeeded: facts.productID)),
            speedMbps: facts.speed?.megabitsPerSecond, configuration: facts.activeConfiguration,
            periodicBytesPerSecond: nil, interfaces: [],
            manufacturer: facts.manufacturer, product: facts.product, serial: facts.serial,
            usbVersion: device.map { bcd($0.usbVersion) }, deviceClass: device.map { Int($0.deviceClass) }
        )
        warnings = facts.notes
        configurations = parse.configurations.map { configuration in
            ConfigurationSummary(
                value: Int(configuration.value),
                interfaces: Set(configuration.alternateSettings.map(\.number)).count,
                maxPowerMilliamps: Int(configuration.maxPower) * (facts.speed?.isSuperSpeedOrAbove == true ? 8 : 2),
                periodicBytesPerSecond: facts.speed.map { Self.figures(of: configuration, at: $0).total }
            )
        }

        // Choose the configuration the figure is for.
        let active: ConfigurationDescriptor?
        if let value = facts.activeConfiguration {
            active = parse.configurations.first { Int($0.value) == value }
        } else {
            active = parse.configurations.first
            if let first = active {
                warnings.append("the device is not configured; figures are for its first configuration (\(first.value))")
            }
        }
        let activeValue = active?.value
        // Issues of the configuration in use decide the figure; the others are only worth a warning.
        var errors: [String] = []
        for issue in parse.issues {
            let concernsFigure = issue.configuration == nil || issue.configuration == activeValue
            if issue.severity == .error && concernsFigure {
                errors.append(issue.description)
            } else {
                warnings.append(issue.description)
            }
        }
        guard errors.isEmpty else {
            error = errors.joined(separator: "; ")
            return
        }
        guard let active else {
            error = facts.activeConfiguration.map { "active configuration \($0) is not among the device's descriptors" }
                ?? "the device has no configuration descriptors"
            return
        }
        guard let speed = facts.speed else {
            error = "the host did not report the device's speed, so its service intervals are unknown"
            return
        }
        let figures = Self.figures(of: active, at: speed)
        interfaces = figures.interfaces
        periodicBytesPerSecond = figures.total
        warnings += figures.warnings
    }

    /// Per-interface figures of one configuration: each interface's largest alternate setting,
    /// summed over interfaces.
    static func figures(of configuration: ConfigurationDescriptor, at speed: USBSpeed)
        -> (interfaces: [InterfaceReport], total: Int, warnings: [String])
    {
        var interfaces: [InterfaceReport] = []
        var warnings: [String] = []
        for alternate in configuration.alternateSettings {
            var endpoints: [EndpointReport] = []
            for endpoint in alternate.endpoints {
                let need = BandwidthModel.need(of: endpoint, at: speed)
                warnings += need.warnings.map { "interface \(alternate.number) alternate setting \(alternate.alternateSetting): \($0)" }
                endpoints.append(EndpointReport(
                    address: Int(endpoint.address), type: endpoint.transferType, maxPacketSize: need.maxPacketSize,
                    transactionsPerInterval: need.transactionsPerInterval, bytesPerInterval: need.bytesPerInterval,
                    intervalMicroseconds: need.intervalMicroseconds, bytesPerSecond: need.bytesPerSecond,
                    direction: endpoint.isInput ? "in" : "out",
                    wMaxPacketSize: Int(endpoint.maxPacketSize), bInterval: Int(endpoint.interval)))
            }
            let report = AlternateReport(setting: Int(alternate.alternateSetting), interfaceClass: Int(alternate.interfaceClass),
                                         periodicBytesPerSecond: endpoints.reduce(0) { $0 + $1.bytesPerSecond },
                                         endpoints: endpoints)
            if let index = interfaces.firstIndex(where: { $0.number == Int(alternate.number) }) {
                interfaces[index].alternates.append(report)
                interfaces[index].periodicBytesPerSecond = max(interfaces[index].periodicBytesPerSecond, report.periodicBytesPerSecond)
            } else {
                interfaces.append(InterfaceReport(number: Int(alternate.number), periodicBytesPerSecond: report.periodicBytesPerSecond,
                                                  alternates: [report]))
            }
        }
        return (interfaces, interfaces.reduce(0) { $0 + $1.periodicBytesPerSecond }, warnings)
    }
}

/// bcdUSB 0x0210 -> "2.10".
func bcd(_ value: UInt16) -> String {
    let major = String(value >> 8, radix: 16)
    let minor = String(value & 0xFF, radix: 16)
    return major + "." + (minor.count < 2 ? "0" + minor : minor)
}
