import NIOCore

/// The first line the connect end sends inside TLS: `TETHER-CHANNEL 1 SESSION <id>\n`, `-` for
/// none. A named session outlives its VM-side connection for a grace period, so that the VM's new
/// host, after a live migration, picks up the same usbredir stream: QEMU migrates the usb-redir
/// parser's state, so the stream must continue where it was, not start over.
enum SessionPreamble {
    static let prefix = "TETHER-CHANNEL 1 SESSION "
    static let maximumLength = 128

    static func line(_ session: String?) -> String { prefix + (session ?? "-") + "\n" }

    /// The session named in a complete preamble line; `.some(nil)` for none; nil when malformed.
    static func parse(_ line: String) -> String?? {
        guard line.hasPrefix(prefix) else { return nil }
        let id = String(line.dropFirst(prefix.count))
        if id == "-" { return .some(nil) }
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isLetter || $0.isNumber || "-._/".contains($0) }) else { return nil }
        return .some(id)
    }

    static func isValid(_ session: String) -> Bool { parse(line(session).dropLast().description) != nil }
}

/// A serve relay's named sessions. Event loop only: every channel of a serve relay lives on its
/// one loop.
/// - live: glued to a VM side now;
/// - waiting: the VM's next host connected before the VM moved (a live migration readies the
///   target first); it takes the stream over the moment the current VM side goes;
/// - held: the VM side went with nobody waiting; the exporter is kept for a grace period.
final class SuspendedSessions {
    private var held: [String: (channel: any Channel, expiry: Scheduled<Void>)] = [:]
    private var live: Set<String> = []
    private var waiting: [String: (id: ObjectIdentifier, takeOver: (any Channel) -> Void)] = [:]

    func isLive(_ session: String) -> Bool { live.contains(session) }

    /// `exporter` now feeds a VM side; the session is live until the exporter closes.
    func glued(_ session: String, exporter: any Channel) {
        live.insert(session)
        let bound = NIOLoopBound(self, eventLoop: exporter.eventLoop)
        exporter.closeFuture.whenComplete { _ in bound.value.live.remove(session) }
    }

    /// The next VM side of a live session waits for its turn (one at a time: a newer one wins).
    func wait(_ session: String, id: ObjectIdentifier, takeOver: @escaping (any Channel) -> Void) {
        waiting[session] = (id, takeOver)
    }

    /// A waiting VM side that closed before its turn.
    func stopWaiting(_ session: String, id: ObjectIdentifier) {
        if waiting[session]?.id == id { waiting[session] = nil }
    }

    /// The VM side of a live session went: its successor takes the exporter over, or it is held.
    func vmSideGone(_ session: String, exporter: any Channel, grace: TimeAmount, log: @escaping @Sendable (String) -> Void) {
        if let next = waiting.removeValue(forKey: session) {
            log("session \(session): the VM side went; its next host takes the device's stream over")
            next.takeOver(exporter)
            return
        }
        live.remove(session)
        log("session \(session): the VM side went; holding the device's stream for \(grace.nanoseconds / 1_000_000_000) s")
        suspend(session, exporter: exporter, grace: grace, log: log)
    }

    /// Keeps `exporter` (whose glue is already removed) for `grace`, holding what it sends, up
    /// to InboundHold's bound, in an InboundHold that the next glue releases.
    func suspend(_ session: String, exporter: any Channel, grace: TimeAmount, log: @escaping @Sendable (String) -> Void) {
        // One hold: an exporter that never reached a VM side has its first one still.
        let holding = (try? exporter.pipeline.syncOperations.handler(type: InboundHold.self)) != nil
        guard holding || (try? exporter.pipeline.syncOperations.addHandler(InboundHold())) != nil else {
            exporter.close(promise: nil)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: exporter.eventLoop)
        let expiry = exporter.eventLoop.scheduleTask(in: grace) {
            if bound.value.held.removeValue(forKey: session) != nil {
                log("session \(session): no VM came back within \(grace.nanoseconds / 1_000_000_000) s; closing the device's stream")
                exporter.close(promise: nil)
            }
        }
        held[session]?.channel.close(promise: nil)
        held[session] = (exporter, expiry)
        exporter.closeFuture.whenComplete { _ in bound.value.held.removeValue(forKey: session)?.expiry.cancel() }
    }

    /// Takes a held exporter back, its InboundHold still in place with what it sent meanwhile.
    func resume(_ session: String) -> (any Channel)? {
        guard let entry = held.removeValue(forKey: session), entry.channel.isActive else { return nil }
        entry.expiry.cancel()
        return entry.channel
    }
}
