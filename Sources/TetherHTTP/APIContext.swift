import Channel
import Hummingbird
import TetherModel
import NIOCore
import NIOSSL

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
        guard (try? await channel.pipeline.containsHandler(type: NIOSSLServerHandler.self).get()) != nil else { return nil }
        guard let certificate = try? await channel.nioSSL_peerCertificate().get() else { return [] }
        guard let der = try? certificate.toDERBytes() else { return [] }
        return ClusterCA.names(inDER: der)
    }

    /// Over TLS, only `host`'s own certificate may speak for it.
    func requirePeer(named host: String) async throws(TetherError) {
        guard let names = await peerNames() else { return }
        guard names.contains(host) else {
            throw TetherError(.permissionDenied, "a certificate for \(names.isEmpty ? "no name" : names.joined(separator: ", ")) cannot speak for host '\(host)'")
        }
    }
}
