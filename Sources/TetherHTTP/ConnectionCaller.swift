import Channel
import Glibc
import NIOCore
import NIOSSL
import Synchronization
import TetherModel

/// Who is at the other end of one connection, as its TLS handshake or the kernel said. Found
/// once per connection and read by every request on it: finding it takes a hop onto the
/// connection's event loop (two over TLS) and, over TLS, a certificate's parse; per request
/// that was a tenth of the controller's time on a dry-run decision, and two parses per
/// heartbeat of every agent.
enum ConnectionCaller: Sendable {
    /// Over TLS: the certificate the peer showed; nil when it showed none.
    case certificate(PeerCertificate?)
    /// A connection without TLS (the unix socket, the loopback web listener): the process that
    /// connected, when the socket can say (SO_PEERCRED), and its groups at its first request,
    /// which stand for the connection's life (a caller whose groups change connects again).
    case local(PeerCredentials?, groups: Set<UInt32>?)

    /// This connection's caller: found on its first request, then kept until it closes.
    static func of(_ channel: any Channel) async -> ConnectionCaller {
        let key = ObjectIdentifier(channel)
        if let kept = known.withLock({ $0[key] }), kept.channel === channel { return kept.caller }
        let found = await find(channel)
        // A channel that closed meanwhile is not kept: its close may have run already.
        guard channel.isActive else { return found }
        known.withLock { $0[key] = Kept(channel: channel, caller: found) }
        // Off the channel's loop, NIO queues this callback onto the loop, to run later. It holds
        // the channel, so no other channel takes its address before the entry goes; and an
        // entry counts only for the very channel it names (held weakly there).
        channel.closeFuture.whenComplete { _ in
            known.withLock { entries in
                if let kept = entries[key], kept.channel == nil || kept.channel === channel { entries[key] = nil }
            }
        }
        return found
    }

    /// A caller, and the channel it was found on (weak: the entry must not keep it).
    private struct Kept: @unchecked Sendable {
        weak var channel: (any Channel)?
        let caller: ConnectionCaller
    }

    private static let known = Mutex<[ObjectIdentifier: Kept]>([:])

    /// Whether `channel`'s caller is kept (the tests: kept while open, forgotten once closed).
    static func isKnown(_ channel: any Channel) -> Bool {
        known.withLock { $0[ObjectIdentifier(channel)]?.channel === channel }
    }

    private static func find(_ channel: any Channel) async -> ConnectionCaller {
        if (try? await channel.pipeline.containsHandler(type: NIOSSLServerHandler.self).get()) != nil {
            guard let certificate = try? await channel.nioSSL_peerCertificate().get(), let der = try? certificate.toDERBytes() else {
                return .certificate(nil)
            }
            return .certificate(PeerCertificate(names: ClusterCA.names(inDER: der), role: ClusterCA.role(inDER: der)))
        }
        guard case .unixDomainSocket = channel.localAddress, let provider = channel as? any SocketOptionProvider,
              let credentials: PeerCredentials = try? await provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET),
                                                                                            name: PeerCredentials.option).get()
        else { return .local(nil, groups: nil) }
        // Root's groups are never asked for; anyone else's are read now, while the pid is still
        // the caller's (`LocalAccess.groups` refuses a pid that runs as another user since).
        guard credentials.uid != 0 else { return .local(credentials, groups: []) }
        return .local(credentials, groups: LocalAccess.groups(ofProcess: credentials.pid, uid: credentials.uid)?.union([credentials.gid]))
    }

    struct PeerCertificate: Sendable {
        var names: [String]
        /// The role it names (`tether certs issue --role`); nil: an agent's.
        var role: CallerRole?
    }

    /// The certificate's names over TLS (empty when it showed none); nil without TLS.
    var peerNames: [String]? {
        switch self {
        case .certificate(let shown): shown?.names ?? []
        case .local: nil
        }
    }

    /// The caller's role as a listener with `access` takes it (see `APIContext.role`).
    func role(_ access: LocalAccess) -> Result<CallerRole?, TetherError> {
        switch self {
        case .certificate(nil):
            return .failure(TetherError(.permissionDenied, "the caller presented no certificate"))
        case .certificate(let shown?):
            return access.capped(shown.role ?? .agent).map { $0 }
        case .local(let credentials, let groups):
            if access.open { return .success(nil) }
            if let everyone = access.everyone { return .success(everyone) }
            guard let credentials else {
                return .failure(TetherError(.permissionDenied, "cannot tell who is calling on the local socket (no peer credentials)"))
            }
            if credentials.uid == 0 { return .success(nil) }
            guard let groups else {
                return .failure(TetherError(.permissionDenied, "the process that connected (pid \(credentials.pid)) is gone; connect again"))
            }
            return access.role(uid: credentials.uid, groups: groups).map { $0 }
        }
    }
}

/// Linux's `struct ucred` (which Glibc's module map leaves out: it needs _GNU_SOURCE), as
/// `getsockopt(SO_PEERCRED)` fills it: the process that connected, and its ids then.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    /// SO_PEERCRED on Linux.
    static let option = SocketOptionName(17)
}
