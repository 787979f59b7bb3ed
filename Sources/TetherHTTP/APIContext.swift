import Hummingbird
import TetherModel
import NIOCore

/// The request context of Tether's APIs: Hummingbird's, plus the connection, so that a route can
/// ask who is calling (the peer certificate's names) over mutual TLS.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The caller's certificate names over TLS; nil on a connection without TLS (the local unix
    /// socket, where the socket's file permissions are the access control).
    func peerNames() async -> [String]? {
        await ConnectionCaller.of(channel).peerNames
    }

    /// The caller's role: over TLS, its certificate's (agent when it names none); on the local
    /// socket, from its uid and groups (SO_PEERCRED). nil: local root (or a socket whose file
    /// mode is the only control), who may call everything.
    func role(_ access: LocalAccess) async -> Result<CallerRole?, TetherError> {
        await ConnectionCaller.of(channel).role(access)
    }

    /// Refuses (403, with the reason) a caller whose role may not do what the route does.
    func require(_ need: CallerRole.Need, _ access: LocalAccess, to what: String) async throws(TetherError) {
        guard let role = try await role(access).get() else { return }
        guard role.may(need) else {
            throw TetherError(.permissionDenied, "a caller with the role \(role.rawValue) may not \(what); that takes \(CallerRole.allowed(for: need))")
        }
    }

    /// Over TLS, only `host`'s own certificate may speak for it.
    func requirePeer(named host: String) async throws(TetherError) {
        guard let names = await peerNames() else { return }
        guard names.contains(host) else {
            throw TetherError(.permissionDenied, "a certificate for \(names.isEmpty ? "no name" : names.joined(separator: ", ")) cannot speak for host '\(host)'")
        }
    }
}
