import Foundation
import TetherModel

/// One host's credentials for migrating over TLS: the cluster CA's certificate, and this
/// host's certificate and private key (PEM; `tether certs` writes them, P-256). Both ends of
/// a migration present theirs and accept only the other's from the same CA; the source also
/// checks that the target's certificate carries the name it expects.
public struct MigrationTLS: Sendable, Equatable, Codable {
    public var caCertificatePath: String
    public var certificatePath: String
    public var privateKeyPath: String

    public init(caCertificatePath: String, certificatePath: String, privateKeyPath: String) {
        self.caCertificatePath = caCertificatePath
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }

    /// The layout `tether certs` writes: `ca.crt`, `NAME.crt` and `NAME.key` in `directory`.
    public init(clusterDirectory directory: String, name: String) {
        self.init(caCertificatePath: "\(directory)/ca.crt", certificatePath: "\(directory)/\(name).crt",
                  privateKeyPath: "\(directory)/\(name).key")
    }

    /// Copies the files into `directory` under the names QEMU's tls-creds-x509 reads: it takes
    /// a directory, not paths, and wants `server-*` on a migration's target and `client-*` on
    /// its source. Cluster certificates serve both (their extended key usage has server and
    /// client authentication), so both sets are written. The directory is made afresh each
    /// time, so that renewed certificates are picked up. QEMU itself does not say which file
    /// was missing or unreadable: a source without a key only sees its target hang up. So
    /// each is checked here.
    func layOut(in directory: String) throws(TetherError) {
        let ca = try Self.pem(caCertificatePath, kind: "CERTIFICATE", role: "the CA certificate")
        let certificate = try Self.pem(certificatePath, kind: "CERTIFICATE", role: "this host's certificate")
        let key = try Self.pem(privateKeyPath, kind: "PRIVATE KEY", role: "this host's private key")
        let files = FileManager.default
        try? files.removeItem(atPath: directory)
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw TetherError(.io, "cannot make the migration TLS directory \(directory)", cause: "\(error)")
        }
        let layout: [(name: String, contents: Data, mode: Int)] = [
            ("ca-cert.pem", ca, 0o644),
            ("server-cert.pem", certificate, 0o644), ("server-key.pem", key, 0o600),
            ("client-cert.pem", certificate, 0o644), ("client-key.pem", key, 0o600),
            ("dh-params.pem", Data(Self.diffieHellmanGroup.utf8), 0o644),
        ]
        for file in layout where !files.createFile(atPath: "\(directory)/\(file.name)", contents: file.contents,
                                                    attributes: [.posixPermissions: file.mode]) {
            throw TetherError(.io, "cannot write \(directory)/\(file.name)")
        }
    }

    /// RFC 7919's ffdhe2048 group (what `openssl genpkey -genparam -algorithm DH -pkeyopt
    /// group:ffdhe2048` prints). Without a `dh-params.pem` QEMU's server credentials generate a
    /// fresh 2048-bit group each time they are made: 0.4 to 3.4 s of a migration's target
    /// getting ready, measured on the lab's 2 cores, inside a failover's critical path. A
    /// named group of the standard is as safe, and takes 2 ms.
    static let diffieHellmanGroup = """
        -----BEGIN DH PARAMETERS-----
        MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
        +8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
        87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
        YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
        7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
        ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
        -----END DH PARAMETERS-----

        """

    /// The file's bytes, if it is PEM holding a `kind` block. QEMU (GnuTLS) reads PKCS#8
    /// (`BEGIN PRIVATE KEY`, what swift-crypto writes) and SEC1 (`BEGIN EC PRIVATE KEY`) keys.
    private static func pem(_ path: String, kind: String, role: String) throws(TetherError) -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TetherError(.notFound, "cannot read \(role) at \(path); `tether certs` writes the cluster's certificates")
        }
        let text = String(decoding: data, as: UTF8.self)
        guard text.contains("-----BEGIN "), text.contains("\(kind)-----") else {
            throw TetherError(.invalidArgument, "\(path) is not a PEM file holding \(role) (no \(kind) block)")
        }
        return data
    }
}
