import Foundation
import TetherModel

extension QEMUMachine {
    /// Hot-adds a usb-redir device whose socket chardev connects to `host:port` (the local end
    /// of Tether's channel), reconnecting if the channel drops.
    public func attachUSBRedirection(id: String, host: String, port: Int) async throws {
        let address: JSONValue = ["type": "inet", "data": ["host": .string(host), "port": .string(String(port))]]
        try await attachUSBRedirection(id: id, address: address)
    }

    /// Hot-adds a usb-redir device whose socket chardev connects to the unix socket at
    /// `socketPath` (the channel's connect end, private to QEMU's uid), reconnecting every
    /// second while the socket is missing or the channel drops.
    public func attachUSBRedirection(id: String, socketPath: String) async throws {
        try await attachUSBRedirection(id: id, address: ["type": "unix", "data": ["path": .string(socketPath)]])
    }

    private func attachUSBRedirection(id: String, address: JSONValue) async throws {
        // A client chardev with `reconnect`: QEMU connects in the background, so the add succeeds
        // even before the relay listens, and it dials again a second after the channel drops.
        let backend: JSONValue = ["type": "socket", "data": ["addr": address, "server": false, "reconnect": 1]]
        try await qmp.execute("chardev-add", ["id": .string("\(id)-chr"), "backend": backend])
        do {
            try await qmp.execute("device_add", ["driver": "usb-redir", "id": .string(id), "chardev": .string("\(id)-chr"), "bus": "xhci.0"])
        } catch {
            _ = try? await qmp.execute("chardev-remove", ["id": .string("\(id)-chr")])
            throw error
        }
    }

    /// Removes the usb-redir device and its chardev; waits until QEMU says the device is gone.
    public func detachUSBRedirection(id: String) async throws {
        let events = qmp.events()
        try await qmp.execute("device_del", ["id": .string(id)])
        _ = try await events.first(where: { $0.name == "DEVICE_DELETED" && $0.data["device"]?.string == id }, within: .seconds(10))
        // QEMU deletes a usb-redir device's chardev with it; remove it only if it is still there.
        let chardevs = try await qmp.execute("query-chardev").array ?? []
        if chardevs.contains(where: { $0["label"]?.string == "\(id)-chr" }) {
            try await qmp.execute("chardev-remove", ["id": .string("\(id)-chr")])
        }
    }

    /// The VM's USB devices, from `info usb`: a usb-redir device is listed while its peer has
    /// announced a device over the connected chardev.
    public func usbDevices() async throws -> [USBDeviceInfo] {
        let text = try await qmp.execute("human-monitor-command", ["command-line": "info usb"]).string ?? ""
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            // "  Device 1.0, Port 1, Speed 12 Mb/s, Product QEMU USB Redirection Device, ID: redir0"
            let fields = line.trimmingCharacters(in: .whitespaces).components(separatedBy: ", ")
            guard fields.count >= 4, fields[0].hasPrefix("Device ") else { return nil }
            let id = fields.first { $0.hasPrefix("ID: ") }.map { String($0.dropFirst(4)) }
            return USBDeviceInfo(device: String(fields[0].dropFirst(7)), port: fields[1].replacingOccurrences(of: "Port ", with: ""),
                                 speed: fields[2].replacingOccurrences(of: "Speed ", with: ""),
                                 product: fields[3].replacingOccurrences(of: "Product ", with: ""), id: id)
        }
    }

    /// The ids of every usb-redir device the VM has, connected or not (the QOM tree, where
    /// `info usb` lists only devices whose peer has announced one).
    public func usbRedirectionIDs() async throws -> [String] {
        let children = try await qmp.execute("qom-list", ["path": "/machine/peripheral"]).array ?? []
        return children.compactMap { child in
            child["type"]?.string == "child<usb-redir>" ? child["name"]?.string : nil
        }.sorted()
    }

    /// Writes the guest's memory to `path` (ELF core) for a crash's post-mortem.
    public func dumpGuestMemory(to path: String) async throws {
        try await qmp.execute("dump-guest-memory", ["paging": false, "protocol": .string("file:\(path)")], timeout: .seconds(300))
    }

    /// A crashed guest: dump its memory, then reset and run it again.
    public func collectCrashAndRestart(dumpTo path: String) async throws {
        try await dumpGuestMemory(to: path)
        try await reset()
        if try await status() != .running { try await resume() }
    }
}

extension AsyncStream where Element == QMPEvent {
    /// The first event matching `predicate`, or a timeout.
    public func first(where predicate: @escaping @Sendable (QMPEvent) -> Bool, within timeout: Duration) async throws -> QMPEvent {
        try await withThrowingTaskGroup(of: QMPEvent?.self) { group in
            group.addTask {
                for await event in self where predicate(event) { return event }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let event = first else {
                throw QMPError.timeout("an expected QEMU event", seconds: Double(timeout.components.seconds))
            }
            return event
        }
    }
}
