extension DeviceReport {
    /// Hub class (USB 2.0 11.23.1): a hub carries other devices and is never given to a VM.
    public var isHub: Bool { deviceClass == 9 }
    /// The vendor id in the four-hex-digit form lsusb and udev use.
    public var vendorHex: String { hex4(vendorId) }
    /// The product id in the four-hex-digit form lsusb and udev use.
    public var productHex: String { hex4(productId) }
}
