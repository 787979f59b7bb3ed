import Foundation
import Logging
import TetherModel
import TetherSystem
import USBProbe

/// libusb hotplug on a thread of its own (its event loop blocks), raising a flag the agent's
/// loop reads.
public final class DeviceChanges: @unchecked Sendable {
    private let lock = NSLock()
    private var changed = false
    private var stopped = false

    /// libusb hotplug, and `events`: a datagram socket the udev rules' `tether notify-agent` writes to.
    public static func watch(logger: Logger, events: String?, libusbHotplug: Bool) -> DeviceChanges {
        let changes = DeviceChanges()
        if let events {
            do {
                try changes.listen(events, logger: logger)
            } catch {
                logger.warning("cannot listen for udev notifications on \(events): \(error)")
            }
        }
        guard libusbHotplug else { return changes }
        Thread.detachNewThread {
            do {
                let watcher = try HotplugWatcher()
                try watcher.run(shouldStop: { changes.lock.withLock { changes.stopped } }) { event in
                    logger.info("USB hotplug: \(event)")
                    changes.mark()
                }
            } catch {
                logger.notice("no libusb hotplug (\(error)); devices are re-probed at every heartbeat")
            }
        }
        return changes
    }

    /// Reads datagrams on `path` (each one means "something changed") on a thread of its own.
    func listen(_ path: String, logger: Logger) throws(TetherError) {
        let fd = try AgentEvents.bind(path)
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 512)
            while !self.lock.withLock({ self.stopped }) {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    logger.info("udev: \(String(decoding: buffer[0..<n], as: UTF8.self))")
                    self.mark()
                }
            }
            close(fd)
        }
    }

    func mark() { lock.withLock { changed = true } }

    /// True once after each change.
    func take() -> Bool {
        lock.withLock {
            defer { changed = false }
            return changed
        }
    }

    func stop() { lock.withLock { stopped = true } }
}
