import CLibUSB
import TetherModel

/// Watches for USB arrivals and removals through libusb's hotplug API and reports each with
/// its figures. Synchronous: `run` handles libusb events on the calling thread until told to stop.
public final class HotplugWatcher {
    public enum Event: Sendable, Equatable {
        case arrived(DeviceReport)
        case left(DeviceReport)
    }

    private let context: LibUSBContext
    private var options: ProbeOptions
    /// Reports of the devices present, so that a removal can say what left: by then the device's
    /// descriptors are gone from the host.
    private var present: [[Int]: DeviceReport] = [:]
    /// Filled by libusb's callback; drained after each round of event handling, because libusb
    /// forbids most work (opening devices among it) inside the callback.
    fileprivate var pending: [(arrived: Bool, device: OpaquePointer)] = []

    public init(options: ProbeOptions = .init()) throws(TetherError) {
        guard libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 else {
            throw TetherError(.unsupported, "this libusb has no hotplug support; use the udev rules or poll with `tether probe`")
        }
        context = try LibUSBContext()
        self.options = options
        for device in try USBInventory.probe(options: options).devices {
            present[[device.bus, device.address]] = device
        }
    }

    /// Handles events until `shouldStop` says so, checking it at least every `tick` milliseconds.
    public func run(tick milliseconds: Int = 200, shouldStop: () -> Bool, onEvent: (Event) -> Void) throws(TetherError) {
        var handle: libusb_hotplug_callback_handle = 0
        let events = Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue)
        let unmanaged = Unmanaged.passUnretained(self)
        try check(libusb_hotplug_register_callback(
            context.pointer, events, 0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
            hotplugCallback, unmanaged.toOpaque(), &handle), "register a hotplug callback")
        defer { libusb_hotplug_deregister_callback(context.pointer, handle) }

        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        while !shouldStop() {
            let rc = libusb_handle_events_timeout_completed(context.pointer, &timeout, nil)
            if rc != Int32(LIBUSB_ERROR_INTERRUPTED.rawValue) {
                try check(rc, "handle USB events")
            }
            let batch = pending
            pending.removeAll()
            for (arrived, device) in batch {
                defer { libusb_unref_device(device) }
                let key = [Int(libusb_get_bus_number(device)), Int(libusb_get_device_address(device))]
                if arrived {
                    let report = USBInventory.report(device: device, context: context.pointer, options: options)
                    present[key] = report
                    onEvent(.arrived(report))
                } else {
                    let report = present.removeValue(forKey: key) ?? DeviceReport(unreadable: device, error: TetherError(
                        .notFound, "the device left before its descriptors were read"))
                    onEvent(.left(report))
                }
                if shouldStop() { return }
            }
        }
    }
}

/// libusb calls this on its event thread (here: the thread inside `run`). It only queues.
private func hotplugCallback(
    _ context: OpaquePointer?, _ device: OpaquePointer?, _ event: libusb_hotplug_event, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let device, let userData else { return 0 }
    let watcher = Unmanaged<HotplugWatcher>.fromOpaque(userData).takeUnretainedValue()
    libusb_ref_device(device)
    watcher.pending.append((event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, device))
    return 0  // stay registered
}
