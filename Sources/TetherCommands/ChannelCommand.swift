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
            try await ChannelCommand.runRelay(.serve, listen: listen, target: forwardTo, relay)
        }
    }

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept plain local connections (QEMU's chardev) and carry each over mutual TLS.")
        @Option(help: "HOST:PORT to listen on (keep it on the loopback).") var listen: HostPort
        @Option(help: "HOST:PORT of the serving end.") var to: HostPort
        @OptionGroup var relay: RelayOptions

        func run() async throws {
            try await ChannelCommand.runRelay(.connect, listen: listen, target: to, relay)
        }
    }

    static func runRelay(_ mode: ChannelRelay.Mode, listen: HostPort, target: HostPort, _ options: RelayOptions) async throws {
        try await FailureReporting.run {
            let relay = try await ChannelRelay.start(mode, listenHost: listen.host, listenPort: listen.port, targetHost: target.host,
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
        @Option(help: "VID:PID, VID:PID:SERIAL or BUS-PORT.") var device: String
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

    /// usbredirect takes VID:PID or BUS-PORT; a serial is resolved to the device's port path.
    static func exporterDevice(_ selector: String) throws -> String {
        let parts = selector.split(separator: ":").map(String.init)
        let hex = { (s: String) in s.count == 4 && UInt16(s, radix: 16) != nil }
        if parts.count == 2, hex(parts[0]), hex(parts[1]) { return selector }
        if parts.count == 1, selector.contains("-"), selector.split(separator: "-").count == 2 { return selector }
        if parts.count == 3, hex(parts[0]), hex(parts[1]) {
            let report = try USBInventory.probe()
            guard let device = report.devices.first(where: {
                $0.vendorId == Int(parts[0], radix: 16) && $0.productId == Int(parts[1], radix: 16) && $0.serial == parts[2]
            }) else {
                throw TetherError(.notFound, "no device \(parts[0]):\(parts[1]) with serial \(parts[2]) is plugged in")
            }
            return device.portPath
        }
        throw TetherError(.invalidArgument, "device '\(selector)': write VID:PID (1a86:7523), VID:PID:SERIAL or BUS-PORT (1-3)")
    }

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hot-add a usb-redir device to a VM, its chardev pointing at the local relay end.")
        @Option(help: "The VM's QMP socket.") var qmp: String
        @Option(help: "HOST:PORT of the local `channel connect` end.") var from: HostPort
        @Option(help: "The device id in the VM.") var id = "tether-redir0"

        func run() async throws {
            try await FailureReporting.run {
                let vm = try await QEMUMachine.adopt(socketPath: qmp)
                try await vm.attachUSBRedirection(id: id, host: from.host, port: from.port)
                await vm.qmp.close()
                print("attached \(id) to \(vm.name), fed from \(from)")
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
