import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import TetherModel

/// One end of Tether's forwarding channel.
///
/// - `serve` (the device's host): accepts mutual-TLS connections, checks the peer's certificate
///   names against the allow list, then forwards to a plain TCP target (the usbredir exporter).
/// - `connect` (the VM's host): accepts plain local connections (QEMU's usb-redir chardev) and
///   carries each over mutual TLS to a `serve` end. It listens on a unix socket private to its
///   uid (`ListenAddress.unix`): on a loopback TCP port any local user could reach the device.
///
/// Nothing is forwarded before the handshake has succeeded and the peer's name is allowed.
public final class ChannelRelay: Sendable {
    public enum Mode: Sendable { case serve, connect }

    public let mode: Mode
    public let meter: ByteMeter
    /// The address it was asked to listen on.
    public let listenAddress: ListenAddress
    private let listener: any Channel
    private let allowList: AllowList
    private let socketFile: PrivateUnixSocket?

    /// The TCP port it listens on (the one chosen, when 0 was asked for); 0 on a unix socket.
    public var port: Int { listener.localAddress?.port ?? 0 }

    /// The unix socket it listens on (what QEMU's chardev connects to); nil on TCP.
    public var socketPath: String? { socketFile?.path }

    private init(mode: Mode, listenAddress: ListenAddress, listener: any Channel, socketFile: PrivateUnixSocket?,
                 meter: ByteMeter, allowList: AllowList) {
        self.mode = mode
        self.listenAddress = listenAddress
        self.listener = listener
        self.socketFile = socketFile
        self.meter = meter
        self.allowList = allowList
    }

    /// Accepts these certificate names too, from the next connection on (a VM that moved: its
    /// new host takes the session over). A relay that accepts any cluster name stays so.
    public func permit(_ names: some Sequence<String>) {
        allowList.box.withLockedValue { allow in allow?.formUnion(names) }
    }

    /// Starts listening on TCP `listenHost:listenPort`; see `start(_:listen:...)`.
    public static func start(_ mode: Mode, listenHost: String, listenPort: Int, targetHost: String, targetPort: Int,
                             identity: TLSIdentity?, allow: Set<String>? = nil, meter: ByteMeter = ByteMeter(),
                             session: String? = nil, resumeGrace: TimeAmount = .seconds(30),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ChannelRelay {
        try await start(mode, listen: .tcp(host: listenHost, port: listenPort), targetHost: targetHost, targetPort: targetPort,
                        identity: identity, allow: allow, meter: meter, session: session, resumeGrace: resumeGrace,
                        group: group, log: log)
    }

    /// Starts listening. `listen`: TCP for a serve end; a unix socket for a connect end (its
    /// directory is created private to this uid, or must already be; a stale socket file there
    /// is replaced; `stop()` removes it). `allow`: the certificate names accepted from the peer
    /// (nil: any the cluster CA signed). `log` receives one line per refusal, connection and close.
    public static func start(_ mode: Mode, listen: ListenAddress, targetHost: String, targetPort: Int,
                             identity: TLSIdentity?, allow: Set<String>? = nil, meter: ByteMeter = ByteMeter(),
                             session: String? = nil, resumeGrace: TimeAmount = .seconds(30),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             log: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ChannelRelay {
        if let session, !SessionPreamble.isValid(session) {
            throw TetherError(.invalidArgument, "session '\(session)' may hold only letters, digits, '-', '.', '_' and '/' (64 at most)")
        }
        // One event loop for all of a relay's connections: a resumed session splices a new
        // VM-side connection onto an exporter connection made for an earlier one.
        let loop = group.next()
        let allowList = AllowList(allow)
        let sessions = try await loop.submit { NIOLoopBound(SuspendedSessions(), eventLoop: loop) }.get()
        // No identity: plaintext, for measuring what TLS costs. Not offered on the command line.
        let context: NIOSSLContext?
        if let identity {
            do {
                context = try NIOSSLContext(configuration: identity.configuration(server: mode == .serve))
            } catch {
                throw TetherError(.invalidArgument, "cannot set up TLS with certificate '\(identity.name)'", cause: "\(error)")
            }
        } else {
            guard allow == nil else { throw TetherError(.invalidArgument, "a plaintext relay cannot check certificate names") }
            context = nil
        }
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: mode == .serve)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // Small USB transfers (a serial dongle's bytes) must not wait for Nagle. (NIO skips
            // this option on a unix socket, where it does not exist.)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A unix socket's client has no address of its own: name the socket.
                    let peer = listen.isUnix ? listen.description : channel.remoteAddress?.description ?? "unknown peer"
                    try channel.pipeline.syncOperations.addHandler(WriteDrainTracker())
                    switch mode {
                    case .serve:
                        if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                        try channel.pipeline.syncOperations.addHandler(ServeGate(
                            peer: peer, allow: allowList, targetHost: targetHost, targetPort: targetPort, meter: meter,
                            sessions: sessions, resumeGrace: resumeGrace, plaintext: context == nil, log: log))
                    case .connect:
                        // Before the starter: what the local side sends before the glue is in place.
                        try channel.pipeline.syncOperations.addHandler(InboundHold())
                        try channel.pipeline.syncOperations.addHandler(ConnectStarter(
                            peer: peer, allow: allowList, context: context, targetHost: targetHost, targetPort: targetPort,
                            meter: meter, session: session, log: log))
                    }
                }
            }
        let listener: any Channel
        var socketFile: PrivateUnixSocket?
        switch listen {
        case .tcp(let host, let port):
            do {
                listener = try await bootstrap.bind(host: host, port: port).get()
            } catch {
                throw TetherError(.io, "cannot listen on \(listen)", cause: "\(error)")
            }
        case .unix(let path):
            try PrivateUnixSocket.prepareDirectory(for: path)
            let (descriptor, file) = try PrivateUnixSocket.bind(at: path)
            do {
                // From here the descriptor is NIO's to close.
                listener = try await bootstrap.withBoundSocket(descriptor).get()
            } catch {
                file.remove()
                throw TetherError(.io, "cannot listen on \(listen)", cause: "\(error)")
            }
            socketFile = file
        }
        let relay = ChannelRelay(mode: mode, listenAddress: listen, listener: listener, socketFile: socketFile,
                                 meter: meter, allowList: allowList)
        let local: String
        switch listen {
        case .tcp(let host, _): local = "\(host):\(relay.port)"
        case .unix: local = listen.description
        }
        let role = mode == .serve ? "serving" : "connecting"
        log("\(role) on \(local) -> \(targetHost):\(targetPort) as '\(identity?.name ?? "plaintext")'")
        return relay
    }

    /// Stops listening (connections already carried go on) and removes its socket file.
    public func stop() async {
        try? await listener.close()
        socketFile?.remove()
    }

    /// True when `names` (a peer certificate's) satisfy the allow list.
    static func allowed(_ names: [String], _ allow: Set<String>?) -> Bool {
        guard let allow else { return true }
        return names.contains { allow.contains($0) }
    }
}

/// A relay's allow list (nil: any name the cluster CA signed), read at each handshake.
final class AllowList: Sendable {
    let box: NIOLockedValueBox<Set<String>?>
    init(_ names: Set<String>?) { box = NIOLockedValueBox(names) }
    func allows(_ names: [String]) -> Bool { ChannelRelay.allowed(names, box.withLockedValue { $0 }) }
}

/// The serve side of one connection: waits for the TLS handshake and checks the client's names,
/// reads the session preamble, then resumes the session's held exporter connection or connects a
/// new one, and glues the two. Until then it holds what arrives (little: reads stop meanwhile).
final class ServeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let peer: String, allow: AllowList, targetHost: String, targetPort: Int
    let meter: ByteMeter
    let sessions: NIOLoopBound<SuspendedSessions>
    let resumeGrace: TimeAmount
    let log: @Sendable (String) -> Void
    private var held: [ByteBuffer] = []
    private var preamble: [UInt8] = []
    private var names: [String]?
    private var admitted = false
    /// The peer ended its stream, or closed, before the glue was in place: told to the glue.
    private var inputEnded = false
    private var closed = false

    init(peer: String, allow: AllowList, targetHost: String, targetPort: Int, meter: ByteMeter,
         sessions: NIOLoopBound<SuspendedSessions>, resumeGrace: TimeAmount, plaintext: Bool = false,
         log: @escaping @Sendable (String) -> Void) {
        if plaintext { names = [] }   // no handshake to wait for
        self.peer = peer
        self.allow = allow
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.meter = meter
        self.sessions = sessions
        self.resumeGrace = resumeGrace
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Application data arrives only after the handshake; until the peer's names are checked
        // it waits, then its first line is read as the preamble.
        let buffer = unwrapInboundIn(data)
        if admitted || names == nil {
            held.append(buffer)
        } else {
            take([buffer], context)
        }
    }

    private enum Preamble {
        case incomplete
        case malformed(String)
        case found(session: String?)
    }

    /// Reads preamble bytes from `buffer`; on a full line, moves what follows it to `held`.
    private func readPreamble(_ data: ByteBuffer) -> Preamble {
        var buffer = data
        while let byte = buffer.readInteger(as: UInt8.self) {
            if byte == UInt8(ascii: "\n") {
                let line = String(decoding: preamble, as: UTF8.self)
                guard let session = SessionPreamble.parse(line) else { return .malformed(String(line.prefix(40))) }
                if buffer.readableBytes > 0 { held.append(buffer) }
                return .found(session: session)
            }
            preamble.append(byte)
            if preamble.count > SessionPreamble.maximumLength { return .malformed("no line within \(SessionPreamble.maximumLength) bytes") }
        }
        return .incomplete
    }

    /// Feeds buffers to the preamble; every byte after it is kept, in order, for the target.
    private func take(_ buffers: [ByteBuffer], _ context: ChannelHandlerContext) {
        guard let names else { return }
        var session: String??
        for buffer in buffers {
            if session != nil {
                held.append(buffer)
                continue
            }
            switch readPreamble(buffer) {
            case .incomplete: continue
            case .malformed(let what):
                log("refused \(peer): not a Tether channel preamble: \(what)")
                context.close(promise: nil)
                return
            case .found(let id): session = .some(id)
            }
        }
        if let session { admit(context, names: names, session: session) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputEnded = true
            // Nothing more will come: a preamble not complete now never will be.
            if names != nil && !admitted { refuseUnfinishedPreamble(context) }
            return
        }
        guard case TLSUserEvent.handshakeCompleted = event else { return context.fireUserInboundEventTriggered(event) }
        // No reading while the names are checked: nothing piles up from a peer not yet admitted.
        context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.channel.nioSSL_peerCertificate().whenComplete { result in
            let (gate, context) = bound.value
            let names = ((try? result.get()).flatMap { $0 }).flatMap { try? $0.toDERBytes() }.map(ClusterCA.names(inDER:)) ?? []
            guard gate.allow.allows(names) else {
                gate.log("refused \(gate.peer): certificate names \(names) are not allowed")
                context.close(promise: nil)
                return
            }
            gate.names = names
            let waiting = gate.held
            gate.held.removeAll()
            gate.take(waiting, context)
            // Read on for the preamble (at most 128 bytes before it is refused).
            if !gate.admitted && gate.inputEnded {
                gate.refuseUnfinishedPreamble(context)
            } else if !gate.admitted {
                context.channel.setOption(.autoRead, value: true).whenComplete { _ in }
                context.read()
            }
        }
    }

    private func refuseUnfinishedPreamble(_ context: ChannelHandlerContext) {
        log("refused \(peer): its stream ended before a Tether channel preamble")
        context.close(promise: nil)
    }

    /// Kept for the glue, not passed on: nothing after the gate needs it before the glue, and
    /// the glue must hear it once.
    func channelInactive(context: ChannelHandlerContext) {
        closed = true
    }

    private func admit(_ context: ChannelHandlerContext, names: [String], session: String?) {
        admitted = true
        context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        if let session, let resumed = sessions.value.resume(session) {
            glue(context, exporter: resumed, names: names, session: session, resumed: true)
            return
        }
        if let session, sessions.value.isLive(session) {
            // The VM's next host, ready before the VM moves: it takes the same stream over when
            // the current VM side goes (a second exporter connection would start the device over).
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let id = ObjectIdentifier(self)
            sessions.value.wait(session, id: id) { exporter in
                let (gate, context) = bound.value
                gate.glue(context, exporter: exporter, names: names, session: session, resumed: true)
            }
            let sessions = self.sessions
            context.channel.closeFuture.whenComplete { _ in sessions.value.stopWaiting(session, id: id) }
            log("session \(session): \(peer) (\(names.joined(separator: ","))) waits to take the stream over from the VM's current host")
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)   // same loop: the glue touches both channels
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            // Not a byte read before the glue is in place: the connect callback can run a loop
            // turn after the socket is readable, and an exporter speaks first (usbredir's hello);
            // what reached an empty pipeline would be dropped.
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WriteDrainTracker())
                    try channel.pipeline.syncOperations.addHandler(InboundHold())
                }
            }
            .connect(host: targetHost, port: targetPort)
            .whenComplete { result in
                let (gate, context) = bound.value
                switch result {
                case .failure(let error):
                    gate.log("\(gate.peer) (\(names.joined(separator: ","))): cannot reach \(gate.targetHost):\(gate.targetPort): \(error)")
                    context.close(promise: nil)
                case .success(let exporter):
                    gate.glue(context, exporter: exporter, names: names, session: session, resumed: false)
                }
            }
    }

    /// Glues the VM side to `exporter`: a new connection, or a session's held one, either with
    /// an InboundHold keeping what it sent meanwhile; or a live session's, just unglued.
    private func glue(_ context: ChannelHandlerContext, exporter: any Channel, names: [String],
                      session: String?, resumed: Bool) {
        let log = self.log, peer = self.peer, meter = self.meter, sessions = self.sessions, grace = resumeGrace
        if let session, inputEnded || closed {
            keepForSession(session, context, exporter: exporter)
            return
        }
        let keep: ((any Channel) -> Void)? = session.map { id in
            { exporter in sessions.value.vmSideGone(id, exporter: exporter, grace: grace, log: log) }
        }
        let (vmSide, exporterSide) = GlueHandler.pair(meter: meter, firstReads: .toDevice, onClose: { error in
            log("\(peer) closed\(error.map { ": \($0)" } ?? ""); \(meter.summary)")
        }, keepSecondWhenFirstCloses: keep)
        do {
            try exporter.pipeline.syncOperations.addHandler(exporterSide)
            try context.pipeline.syncOperations.addHandler(vmSide)
        } catch {
            context.close(promise: nil)
            exporter.close(promise: nil)
            return
        }
        sendHeld(to: exporter)
        // Live before the held bytes go: their flush may fail and close the VM side, which
        // hands the exporter back to be held, and that must stand.
        if let session { sessions.value.glued(session, exporter: exporter) }
        (try? exporter.pipeline.syncOperations.handler(type: InboundHold.self))?.release()
        if inputEnded { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        if closed { context.fireChannelInactive() }
        let inbound = context.channel
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        log(resumed ? "resumed session \(session ?? "-") for \(peer) (\(names.joined(separator: ",")))"
                    : "admitted \(peer) (\(names.joined(separator: ","))) -> \(targetHost):\(targetPort)"
                      + (session.map { " in session \($0)" } ?? ""))
        inbound.setOption(.autoRead, value: true).whenComplete { _ in }
        exporter.setOption(.autoRead, value: true).whenComplete { _ in }
        inbound.read()
        exporter.read()
    }

    /// What the VM side sent before its glue, to the device, in order.
    private func sendHeld(to exporter: any Channel) {
        for buffer in held {
            meter.record(buffer.readableBytes, .toDevice)
            exporter.write(buffer, promise: nil)
        }
        exporter.flush()
        held.removeAll()
    }

    /// A session's VM side that went before its glue was in place: what it sent goes to the
    /// device, and the device's stream, with what it sent meanwhile still in its InboundHold, is
    /// the session's, for the VM's next host, as when a glued VM side goes.
    private func keepForSession(_ session: String, _ context: ChannelHandlerContext, exporter: any Channel) {
        sendHeld(to: exporter)
        log("\(peer) closed before its session \(session) was joined to the device's stream")
        sessions.value.vmSideGone(session, exporter: exporter, grace: resumeGrace, log: log)
        exporter.setOption(.autoRead, value: true).whenComplete { _ in }
        exporter.read()
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !admitted { log("refused \(peer): TLS handshake failed: \(error)") }
        context.close(promise: nil)
    }
}

/// The connect side of one local connection: dials the serve end over TLS on the same event
/// loop, checks the server's names, then glues and starts reading the local side.
final class ConnectStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let peer: String, allow: AllowList, context: NIOSSLContext?, targetHost: String, targetPort: Int
    let meter: ByteMeter
    let session: String?
    let log: @Sendable (String) -> Void

    init(peer: String, allow: AllowList, context: NIOSSLContext?, targetHost: String, targetPort: Int,
         meter: ByteMeter, session: String?, log: @escaping @Sendable (String) -> Void) {
        self.session = session
        self.peer = peer
        self.allow = allow
        self.context = context
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.meter = meter
        self.log = log
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        let local = context.channel
        let handshake = context.eventLoop.makePromise(of: [String].self)
        let sslContext = self.context, allow = self.allow, log = self.log, peer = self.peer, meter = self.meter
        let preamble = SessionPreamble.line(session)
        let target = "\(targetHost):\(targetPort)"
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WriteDrainTracker())
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: nil))
                        try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: handshake))
                    } else {
                        handshake.succeed([])
                    }
                    try channel.pipeline.syncOperations.addHandler(InboundHold())
                }
            }
            .connect(host: targetHost, port: targetPort)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    log("\(peer): cannot reach \(target): \(error)")
                    handshake.fail(error)
                    local.close(promise: nil)
                case .success(let remote):
                    handshake.futureResult.whenComplete { outcome in
                        switch outcome {
                        case .failure(let error):
                            log("refused by or refusing \(target): TLS handshake failed: \(error)")
                            remote.close(promise: nil)
                            local.close(promise: nil)
                        case .success(let names) where !allow.allows(names):
                            log("refused \(target): certificate names \(names) are not allowed")
                            remote.close(promise: nil)
                            local.close(promise: nil)
                        case .success(let names):
                            let (localSide, remoteSide) = GlueHandler.pair(meter: meter, firstReads: .toDevice) { error in
                                log("\(peer) closed\(error.map { ": \($0)" } ?? ""); \(meter.summary)")
                            }
                            do {
                                try remote.pipeline.syncOperations.addHandler(remoteSide)
                                try local.pipeline.syncOperations.addHandler(localSide)
                            } catch {
                                remote.close(promise: nil)
                                local.close(promise: nil)
                                return
                            }
                            var line = remote.allocator.buffer(capacity: preamble.utf8.count)
                            line.writeString(preamble)
                            remote.writeAndFlush(line, promise: nil)
                            for channel in [local, remote] {
                                (try? channel.pipeline.syncOperations.handler(type: InboundHold.self))?.release()
                            }
                            log("carrying \(peer) -> \(target) (\(names.joined(separator: ",")))")
                            local.setOption(.autoRead, value: true).whenComplete { _ in }
                            local.read()
                        }
                    }
                }
            }
    }
}

/// Completes with the server's certificate names once the client handshake is done.
final class HandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<[String]>
    private var done = false

    init(promise: EventLoopPromise<[String]>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event, !done else { return context.fireUserInboundEventTriggered(event) }
        done = true
        let promise = self.promise
        context.channel.nioSSL_peerCertificate().whenComplete { result in
            let names = ((try? result.get()).flatMap { $0 }).flatMap { try? $0.toDERBytes() }.map(ClusterCA.names(inDER:)) ?? []
            promise.succeed(names)
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(TetherError(.io, "the peer closed before the TLS handshake finished"))
        }
        context.fireChannelInactive()
    }
}
