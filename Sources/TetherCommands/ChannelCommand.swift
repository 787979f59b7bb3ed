import ArgumentParser
import Channel
import Foundation
import Hypervisor
import TetherModel
import USBProbe

/// `tether channel`: set up or debug a forwarding channel by hand; the daemon uses the same code.
public struct ChannelCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "channel",
        abstract: "Forward a USB device to a VM on another host: exporter, mutual-TLS relay, VM attach.",
        subcommands: [Serve.self, Connect.self, Export.self, Attach.self, Detach.self])

    public init() {}

    struct RelayOptions: ParsableArguments {
        @Option(help: "The `tether certs` directory.") var tlsDir: String
        @Option(help: "This end's certificate name.") var name: String
        @Option(help: "Comma-separated certificate names accepted from the peer (default: any the CA signed).")
        var allow: String?
        @Option(help: "Log the observed rate every this many seconds.") var reportSeconds = 10
        @Option(help: "connect: the channel session to name (the same on the VM's old and new host, so the device's stream survives a live migration).")
        var session: String?
        @Option(help: "serve: how long a session's device stream is held after its VM side goes.") var resumeSeconds = 30

        var allowed: Set<String>? { allow.map { Set($0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) } }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept mutual-TLS connections and forward each to a plain TCP target (the exporter).")
        @Option(help: "HOST:PORT to listen on.") var listen: HostPort
        @Option(help: "HOST:PORT to forward to.") var forwardTo: HostPort
        @OptionGroup var relay: RelayOptions

        func run() async throws {
            try await ChannelCommand.runRelay(.serve, listen: .tcp(host: listen.host, port: listen.port), target: forwardTo, relay)
        }
    }

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept plain local connections (QEMU's chardev) and carry each over mutual TLS.")
        @Option(help: "A unix socket to listen on, in a directory of its own (made mode 700): only this user reaches it.")
        var listenUnix: String?
        @Option(help: "HOST:PORT to listen on instead: any local user can connect to it, and so reach the device.")
        var listen: HostPort?
        @Option(help: "HOST:PORT of the serving end.") var to: HostPort
        @OptionGroup var relay: RelayOptions

        func validate() throws {
            guard (listenUnix == nil) != (listen == nil) else {
                throw ValidationError("give one of --listen-unix PATH or --listen HOST:PORT")
            }
        }

        func run() async throws {
            let address: ListenAddress = if let listenUnix { .unix(path: listenUnix) } else {
                .tcp(host: listen?.host ?? "127.0.0.1", port: listen?.port ?? 0)
            }
            try await ChannelCommand.runRelay(.connect, listen: address, target: to, relay)
        }
    }

    static func runRelay(_ mode: ChannelRelay.Mode, listen: ListenAddress, target: HostPort, _ options: RelayOptions) async throws {
        try await FailureReporting.run {
            let relay = try await ChannelRelay.start(mode, listen: listen, targetHost: target.host,
                                                     targetPort: target.port, identity: TLSIdentity(directory: options.tlsDir, name: options.name),
                                                     allow: options.allowed, session: options.session,
                                                     resumeGrace: .seconds(Int64(max(0, options.resumeSeconds))), log: say)
            let reporter = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(max(1, options.reportSeconds)))
                    if !Task.isCancelled { say("rate: \(relay.meter.summary)") }
                }
            }
            let signal = await Termination.wait()
            reporter.cancel()
            await relay.stop()
            say("stopping on signal \(signal); rate: \(relay.meter.summary)")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export a local USB device with usbredir (supervised usbredirect).")
        @Option(help: "VID:PID, VID:PID:SERIAL or a port path (1-3).") var device: String
        @Option(help: "HOST:PORT to serve the device on (the relay's --forward-to).") var listen: HostPort

        func run() async throws {
            try await FailureReporting.run {
                let selector = try ChannelCommand.exporterDevice(device)
                let supervisor = ExporterSupervisor(device: selector, listen: listen.description, log: say)
                try supervisor.start()
                let signal = await Termination.wait()
                say("stopping on signal \(signal)")
                await supervisor.stop()
            }
        }
    }

    /// usbredirect takes VID:PID or BUS-ADDRESS (`1-4`: bus 1, device address 4); a port path
    /// or a serial is resolved, through the probe, to the device's bus and address now.
    static func exporterDevice(_ selector: String) throws -> String {
        // A port path (1-3) has no colon; VID:PID[:SERIAL] has.
        let parsed = try DeviceSelector(parsing: selector.contains(":") ? selector : "local/\(selector)")
        if case .product(let vendor, let product, nil) = parsed { return "\(vendor):\(product)" }
        let report = try USBInventory.probe()
        let found = report.devices.first { device in
            switch parsed {
            case .port(let ref): device.portPath == ref.id
            case .product(let vendor, let product, let serial):
                device.vendorId == Int(vendor, radix: 16) && device.productId == Int(product, radix: 16) && device.serial == serial
            }
        }
        guard let found else { throw TetherError(.notFound, "no device \(selector) is plugged in; `tether probe` lists them") }
        return "\(found.bus)-\(found.address)"
    }

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hot-add a usb-redir device to a VM, its chardev pointing at the local relay end.")
        @Option(help: "The VM's QMP socket.") var qmp: String
        @Option(help: "The unix socket of the local `channel connect --listen-unix` end.") var fromUnix: String?
        @Option(help: "HOST:PORT of the local `channel connect --listen` end.") var from: HostPort?
        @Option(help: "The device id in the VM.") var id = "tether-redir0"

        func validate() throws {
            guard (fromUnix == nil) != (from == nil) else {
                throw ValidationError("give one of --from-unix PATH or --from HOST:PORT")
            }
        }

        func run() async throws {
            try await FailureReporting.run {
                let vm = try await QEMUMachine.adopt(socketPath: qmp)
                if let fromUnix {
                    try await vm.attachUSBRedirection(id: id, socketPath: fromUnix)
                } else if let from {
                    try await vm.attachUSBRedirection(id: id, host: from.host, port: from.port)
                }
                await vm.qmp.close()
                print("attached \(id) to \(vm.name), fed from \(fromUnix.map { "unix:\($0)" } ?? from?.description ?? "")")
            }
        }
    }

    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a VM's usb-redir devices (all of Tether's, or one).")
        @Option(help: "The VM's QMP socket.") var qmp: String
        @Option(help: "Only this device id.") var id: String?

        func run() async throws {
            try await FailureReporting.run {
                let vm = try await QEMUMachine.adopt(socketPath: qmp)
                var ids: [String]
                if let id {
                    ids = [id]
                } else {
                    ids = try await vm.usbRedirectionIDs().filter { $0.hasPrefix("tether-") }
                }
                for each in ids { try await vm.detachUSBRedirection(id: each) }
                ids.sort()
                await vm.qmp.close()
                print(ids.isEmpty ? "\(vm.name) has no usb-redir device of Tether's" : "detached \(ids.joined(separator: ", ")) from \(vm.name)")
            }
        }
    }

    static func say(_ line: String) {
        FileHandle.standardError.write(Data("tether: \(line)\n".utf8))
    }
}
