import Foundation

/// What the crash flow kept of a crashed guest (`POST /v1/agent/vms/crash`): a folder in the
/// host's crash directory with the crash region as the guest left it, QEMU's memory dump where
/// the guest wrote no crash file, and `crash.json` describing both.
public struct CrashCollection: Sendable, Equatable, Codable {
    public var vm: String
    public var host: String
    public var directory: String
    /// The files written there, by name.
    public var files: [String]
    /// Sectors of the crash region that hold crash data (the marker, or any data).
    public var crashSectors: Int
    /// The guest wrote after it signalled (its block statistics moved): the crash files are this crash's.
    public var guestWrote: Bool
    /// QEMU's memory dump was taken, the guest having written none.
    public var memoryDumped: Bool
    /// How long the guest went on writing after the collection began.
    public var settledAfterSeconds: Double
    public var at: Date

    public init(vm: String, host: String, directory: String, files: [String], crashSectors: Int, guestWrote: Bool, memoryDumped: Bool,
                settledAfterSeconds: Double, at: Date) {
        self.vm = vm
        self.host = host
        self.directory = directory
        self.files = files
        self.crashSectors = crashSectors
        self.guestWrote = guestWrote
        self.memoryDumped = memoryDumped
        self.settledAfterSeconds = settledAfterSeconds
        self.at = at
    }

    /// One line for the journal.
    public var summary: String {
        let what = memoryDumped ? "no crash file written, QEMU's memory dump taken" : "\(crashSectors) sectors of crash files"
        return "\(what), in \(directory)"
    }
}
