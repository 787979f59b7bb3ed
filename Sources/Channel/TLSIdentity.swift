import Foundation
import NIOSSL
import TetherModel

/// This end's certificate and key, and the CA it trusts, from a `tether certs` directory.
public struct TLSIdentity: Sendable {
    public let name: String
    let certificate: NIOSSLCertificate
    let key: NIOSSLPrivateKey
    let authority: NIOSSLCertificate

    public init(directory: String, name: String) throws {
        self.name = name
        do {
            guard let own = try NIOSSLCertificate.fromPEMFile("\(directory)/\(name).crt").first,
                  let ca = try NIOSSLCertificate.fromPEMFile("\(directory)/ca.crt").first else {
                throw TetherError(.invalidArgument, "empty certificate file")
            }
            certificate = own
            authority = ca
            key = try NIOSSLPrivateKey(file: "\(directory)/\(name).key", format: .pem)
        } catch {
            throw TetherError(.notFound, "no certificate '\(name)' with its key and CA in \(directory); "
                              + "run `tether certs issue --dir \(directory) --name \(name)`", cause: "\(error)")
        }
    }

    /// TLS 1.3 only, this identity presented, only the cluster CA trusted. Names are checked by
    /// the relay itself against its allow list, so hostname verification is off here.
    public func configuration(server: Bool) -> TLSConfiguration {
        var configuration = server
            ? TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
            : TLSConfiguration.makeClientConfiguration()
        if !server {
            configuration.certificateChain = [.certificate(certificate)]
            configuration.privateKey = .privateKey(key)
        }
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates([authority])
        configuration.certificateVerification = .noHostnameVerification
        return configuration
    }
}
