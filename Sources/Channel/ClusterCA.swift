import Crypto
import Foundation
import TetherModel
import X509

/// The cluster's certificate authority: one P-256 key that signs a certificate per host (or
/// per service), each carrying its name. Both ends of a channel present one and accept only
/// certificates this CA signed.
public enum ClusterCA {
    /// Writes `ca.crt` and `ca.key` in `directory`; refuses to overwrite an existing CA.
    public static func initialize(in directory: String, now: Date = Date(), years: Int = 10) throws -> String {
        let crtPath = "\(directory)/ca.crt", keyPath = "\(directory)/ca.key"
        guard !FileManager.default.fileExists(atPath: keyPath) else {
            throw TetherError(.invalidArgument, "\(keyPath) exists already; a second CA would orphan every certificate the first signed")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("Tether cluster CA") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(years) * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
        try write(key.pemRepresentation, to: keyPath, secret: true)
        try write(try certificate.serializeAsPEM().pemString, to: crtPath, secret: false)
        return crtPath
    }

    /// Writes `NAME.crt` and `NAME.key`, signed by the CA in `directory`. The name goes in the
    /// subject and as a DNS subject alternative name: it is what `--allow` lists match.
    /// `role` (operator, viewer, agent) goes in the subject as its organizational unit: what the
    /// controller's API lets the holder call. A certificate without one is a host's or a
    /// controller's, and counts as `agent`.
    public static func issue(name: String, role: CallerRole? = nil, in directory: String, notBefore: Date = Date().addingTimeInterval(-300),
                             notAfter: Date = Date().addingTimeInterval(825 * 86400)) throws -> String {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) }) else {
            throw TetherError(.invalidArgument, "certificate name '\(name)' may hold only letters, digits, '-', '.' and '_'")
        }
        let (caCertificate, caKey) = try loadCA(from: directory)
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: caCertificate.subject, subject: try role.map { role in try DistinguishedName { CommonName(name); OrganizationalUnitName(role.rawValue) } }
                ?? DistinguishedName { CommonName(name) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName(name)])
            },
            issuerPrivateKey: .init(caKey))
        let crtPath = "\(directory)/\(name).crt"
        try write(key.pemRepresentation, to: "\(directory)/\(name).key", secret: true)
        try write(try certificate.serializeAsPEM().pemString, to: crtPath, secret: false)
        return crtPath
    }

    static func loadCA(from directory: String) throws -> (Certificate, P256.Signing.PrivateKey) {
        do {
            let certificate = try Certificate(pemEncoded: try String(contentsOfFile: "\(directory)/ca.crt", encoding: .utf8))
            let key = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: "\(directory)/ca.key", encoding: .utf8))
            return (certificate, key)
        } catch {
            throw TetherError(.notFound, "no usable CA in \(directory); run `tether certs init --dir \(directory)` first", cause: "\(error)")
        }
    }

    /// The role a certificate's subject names (its organizational unit); nil for none, or for
    /// one that is not a role (which grants nothing beyond what `agent` does).
    public static func role(inDER der: [UInt8]) -> CallerRole? {
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        for rdn in certificate.subject { for attribute in rdn where attribute.type == .RDNAttributeType.organizationalUnitName {
            return CallerRole(rawValue: String(describing: attribute.value))
        } }
        return nil
    }

    /// The names a certificate stands for: its DNS subject alternative names, else its CN.
    public static func names(inDER der: [UInt8]) -> [String] {
        guard let certificate = try? Certificate(derEncoded: der) else { return [] }
        var names: [String] = []
        if let san = try? certificate.extensions.subjectAlternativeNames {
            for entry in san { if case .dnsName(let name) = entry { names.append(name) } }
        }
        if names.isEmpty {
            for rdn in certificate.subject { for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                names.append(String(describing: attribute.value))
            } }
        }
        return names
    }

    static func write(_ text: String, to path: String, secret: Bool) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
            throw TetherError(.io, "cannot write \(path)")
        }
    }
}
