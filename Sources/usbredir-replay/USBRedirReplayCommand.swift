import Foundation
import Glibc
import USBRedirReplay

/// `usbredir-replay --device BUS-ADDRESS|VID:PID --as HOST:PORT`: usbredirect's command line,
/// serving a device of the umockdev recording named by TETHER_USBREDIR_RECORDING over usbredir
/// until killed. For demos and tests: usbredirect itself needs a real device (under umockdev it
/// stops with "Error starting usbredirhost"). An agent uses it when its `exporter` says so.
@main
struct USBRedirReplayCommand {
    static func main() throws {
        // Dies with the agent that started it, even one killed outright: an orphan would keep
        // serving the device on a port nobody knows. (usbredirect itself has no such guard.) The
        // parent process is watched, not set as PR_SET_PDEATHSIG: that signal comes when the
        // *thread* that spawned the child ends, and the agent spawns from its concurrency pool,
        // whose threads retire after a few idle seconds. It killed replays at random, mid-session.
        let parent = getppid()
        let arguments = CommandLine.arguments
        func value(_ flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        }
        guard let device = value("--device"), let listen = value("--as"), let colon = listen.lastIndex(of: ":"),
              let port = Int(listen[listen.index(after: colon)...]) else {
            FileHandle.standardError.write(Data("usage: usbredir-replay --device BUS-ADDRESS|VID:PID --as HOST:PORT\n".utf8))
            exit(2)
        }
        guard let path = ProcessInfo.processInfo.environment["TETHER_USBREDIR_RECORDING"],
              let recording = try? String(contentsOfFile: path, encoding: .utf8) else {
            FileHandle.standardError.write(Data("usbredir-replay: set TETHER_USBREDIR_RECORDING to a readable umockdev recording\n".utf8))
            exit(2)
        }
        guard let found = RecordedDevice.find(device, in: recording) else {
            FileHandle.standardError.write(Data("usbredir-replay: no device \(device) in \(path)\n".utf8))
            exit(1)
        }
        let peer = try USBRedirPeer(descriptors: found.descriptors, speed: found.speed, port: port)
        FileHandle.standardError.write(Data("usbredir-replay: serving \(device) on 127.0.0.1:\(peer.port)\n".utf8))
        while getppid() == parent { sleep(1) }
        FileHandle.standardError.write(Data("usbredir-replay: the process that started it has gone; stopping\n".utf8))
        withExtendedLifetime(peer) { exit(0) }
    }
}
