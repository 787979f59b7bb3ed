import ArgumentParser
import Foundation
import TetherModel
import USBProbe

/// `tether probe`: the USB devices of this host and the bus bandwidth each reserves.
public struct ProbeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "List this host's USB devices and the periodic bandwidth each needs.",
        discussion: """
            Figures follow the USB specification: only interrupt and isochronous endpoints reserve \
            bandwidth; each interface counts its largest alternate setting. A device whose \
            descriptors are broken is listed with its error and no figure; the others are unaffected.
            """
    )

    @Flag(help: "Print JSON (the schema of spec/probe.md) instead of a table.")
    var json = false

    @Flag(help: "After listing nothing, print each arrival and removal as it happens (libusb hotplug).")
    var watch = false

    @Option(help: "With --watch: stop after this many events.")
    var events: Int?

    @Flag(name: .shortAndLong, help: "Show every interface, alternate setting and endpoint.")
    var verbose = false

    @Option(help: ArgumentHelp("Where configuration descriptors come from (auto: raw bytes, libusb's parse as fallback).",
                               visibility: .hidden))
    var descriptorSource: ProbeOptions.DescriptorSource = .auto

    public init() {}

    public func validate() throws {
        if let events, events < 1 { throw ValidationError("--events must be at least 1") }
        if events != nil && !watch { throw ValidationError("--events goes with --watch") }
    }

    public func run() throws {
        let options = ProbeOptions(descriptorSource: descriptorSource)
        do {
            if watch {
                try runWatch(options: options)
            } else {
                let report = try USBInventory.probe(options: options)
                if json {
                    print(try ProbeOutput.json(report))
                } else {
                    print(ProbeTable.render(report, verbose: verbose), terminator: "")
                }
            }
        } catch let error as TetherError {
            throw CommandFailure(error)
        }
    }

    private func runWatch(options: ProbeOptions) throws {
        var watchOptions = options
        watchOptions.openForStrings = false
        let watcher = try HotplugWatcher(options: watchOptions)
        if json {
            emit(#"{"event":"watching"}"#)
        } else {
            FileHandle.standardError.write(Data("Watching for USB arrivals and removals (Ctrl-C to stop)\n".utf8))
        }
        var seen = 0
        try watcher.run(shouldStop: { events.map { seen >= $0 } ?? false }) { event in
            seen += 1
            emit(json ? (try? ProbeOutput.json(event)) ?? "" : ProbeTable.line(for: event))
        }
    }

    /// One line, flushed at once: a watcher's reader (a person or a pipe) wants it now.
    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

extension ProbeOptions.DescriptorSource: ExpressibleByArgument {}
