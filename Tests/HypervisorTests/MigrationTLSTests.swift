import Channel
import Foundation
import Hypervisor
import Testing
import TetherTestKit
import TetherModel
import TetherTestSupport

/// Live migration over TLS between real QEMU VMs, with certificates from the cluster CA as
/// `tether certs` makes them (P-256, the host's name as a DNS subject alternative name).
@Suite(.serialized, .requires(QEMUTestbed.isAvailable, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
struct MigrationTLSTests {
    /// A cluster CA in `pki` with certificates for `names`, and another CA in `other` with a
    /// certificate for host-b: an impostor.
    static func makeCertificates(_ bed: QEMUTestbed) throws -> (pki: String, other: String) {
        let pki = bed.path("pki"), other = bed.path("other")
        _ = try ClusterCA.initialize(in: pki)
        _ = try ClusterCA.issue(name: "host-a", in: pki)
        _ = try ClusterCA.issue(name: "host-b", in: pki)
        _ = try ClusterCA.initialize(in: other)
        _ = try ClusterCA.issue(name: "host-b", in: other)
        return (pki, other)
    }

    /// The agents' path: the target's agent readies it with its own credentials, the source's
    /// migrates out with its own and the target's name.
    @Test func aMigrationOverTLSBetweenHostsOfOneCAKeepsGuestRAM() async throws {
        try await QEMUTestbed.with { bed in
            let (pki, _) = try Self.makeCertificates(bed)
            let size = QEMUMachineTests.patternSize, address = QEMUMachineTests.patternAddress
            let pattern = try bed.pattern("pattern.bin", size: size, seed: 0x7153)
            let source = try await bed.launch(VMSpec(name: "src", memoryImages: [(bed.path("pattern.bin"), address)]))
            let target = try await bed.launch(VMSpec(name: "dst", incoming: true))
            let uri = "tcp:127.0.0.1:\(try QEMUTestbed.freePort())"

            try await target.prepareIncoming(uri: uri, tls: MigrationTLS(clusterDirectory: pki, name: "host-b"), sourceName: "host-a")
            let options = MigrationOptions(timeout: .seconds(120), tls: MigrationTLS(clusterDirectory: pki, name: "host-a"),
                                           targetName: "host-b")
            let result = try await source.migrateOut(uri: uri, options: options) { _ in }
            #expect(result.status == .completed)
            let parameters = try await source.qmp.execute("query-migrate-parameters")
            #expect(parameters["tls-creds"]?.string?.isEmpty == false, "the source migrated with TLS credentials")
            #expect(parameters["tls-hostname"]?.string == "host-b")
            #expect(try await target.qmp.execute("query-migrate-parameters")["tls-authz"]?.string?.isEmpty == false)
            #expect(Self.isFFDHE2048(FileManager.default.contents(atPath: target.qmp.socketPath + ".migration-tls/dh-params.pem")),
                    "the target's credentials name RFC 7919's group rather than have QEMU generate one for seconds")
            try await target.waitForStatus(.running)
            #expect(try await source.status() == .postmigrate)
            try await target.saveGuestMemory(address: address, size: size, to: bed.path("after.bin"))
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: bed.path("after.bin")))) == pattern)
        }
    }

    /// PKCS#3 DH parameters whose prime is RFC 7919's ffdhe2048 (its first 128 bits, as the RFC
    /// prints them, and its last 64, all ones) and whose generator is 2.
    static func isFFDHE2048(_ pem: Data?) -> Bool {
        guard let text = pem.map({ String(decoding: $0, as: UTF8.self) }), text.hasPrefix("-----BEGIN DH PARAMETERS-----\n") else { return false }
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: body).map([UInt8].init), der.count == 268 else { return false }
        let prime = Array(der[9..<265])
        let start: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xAD, 0xF8, 0x54, 0x58, 0xA2, 0xBB, 0x4A, 0x9A]
        return Array(der[0..<9]) == [0x30, 0x82, 0x01, 0x08, 0x02, 0x82, 0x01, 0x01, 0x00] && Array(prime.prefix(16)) == start
            && prime.suffix(8).allSatisfy { $0 == 0xFF } && Array(der.suffix(3)) == [0x02, 0x01, 0x02]
    }

    /// A target readied for TLS takes nothing in plaintext: the handshake never happens.
    @Test func aTLSTargetRefusesAPlaintextSource() async throws {
        try await QEMUTestbed.with { bed in
            let (pki, _) = try Self.makeCertificates(bed)
            let source = try await bed.launch(VMSpec(name: "src", memoryMiB: 64))
            let target = try await bed.launch(VMSpec(name: "dst", memoryMiB: 64, incoming: true))
            let uri = "tcp:127.0.0.1:\(try QEMUTestbed.freePort())"
            try await target.prepareIncoming(uri: uri, tls: MigrationTLS(clusterDirectory: pki, name: "host-b"), sourceName: nil)
            await #expect(throws: TetherError.self) {
                _ = try await source.migrateOut(uri: uri, options: MigrationOptions(timeout: .seconds(30))) { _ in }
            }
            #expect(try await source.status() == .running)
            #expect(try await target.status() != .running, "the target did not start from a plaintext stream")
        }
    }

    /// A target whose certificate another CA signed is refused by the source before any state
    /// is sent; the source keeps running.
    @Test func aTargetFromAnotherCAIsRefused() async throws {
        try await QEMUTestbed.with { bed in
            let (pki, other) = try Self.makeCertificates(bed)
            let (error, target) = try await Self.refusedMigration(
                bed, targetTLS: MigrationTLS(clusterDirectory: other, name: "host-b"),
                sourceTLS: MigrationTLS(clusterDirectory: pki, name: "host-a"), targetName: "host-b")
            #expect(try await target.status() == .inmigrate, "a target that refused a source keeps waiting")
            // GnuTLS says "not trusted" when the other CA has the same name as the cluster's
            // (every `tether certs init` CA is "Tether cluster CA"), "no known issuer" otherwise.
            let reason = error.cause ?? ""
            #expect(reason.contains("The certificate is not trusted") || reason.contains("hasn't got a known issuer"), "\(error)")
        }
    }

    /// The target's certificate is the cluster's, but for another name than the source expects.
    @Test func aTargetWithAnotherNameIsRefused() async throws {
        try await QEMUTestbed.with { bed in
            let (pki, _) = try Self.makeCertificates(bed)
            let (error, _) = try await Self.refusedMigration(
                bed, targetTLS: MigrationTLS(clusterDirectory: pki, name: "host-b"),
                sourceTLS: MigrationTLS(clusterDirectory: pki, name: "host-a"), targetName: "host-c")
            #expect(error.cause?.contains("hostname host-c") == true, "\(error)")
        }
    }

    /// The target was told which host migrates to it: another host of the cluster, with a
    /// good certificate, is turned away. The source sees only that the target hung up.
    @Test func aSourceTheTargetWasNotToldOfIsRefused() async throws {
        try await QEMUTestbed.with { bed in
            let (pki, _) = try Self.makeCertificates(bed)
            let (_, target) = try await Self.refusedMigration(
                bed, targetTLS: MigrationTLS(clusterDirectory: pki, name: "host-b"), sourceName: "host-c",
                sourceTLS: MigrationTLS(clusterDirectory: pki, name: "host-a"), targetName: "host-b")
            // Only the target says why; the source sees it hang up.
            let log = try String(contentsOfFile: try #require(target.logPath), encoding: .utf8)
            #expect(log.contains("authz check for CN=host-a is denied"), "\(log)")
            #expect(try await target.status() == .inmigrate, "the target still waits for its own source")
        }
    }

    /// Missing credentials are named before QEMU is asked: QEMU would only see its peer hang up.
    @Test func missingCredentialsAreNamed() async throws {
        try await QEMUTestbed.with { bed in
            let (pki, _) = try Self.makeCertificates(bed)
            let target = try await bed.launch(VMSpec(name: "dst", memoryMiB: 64, incoming: true))
            do {
                try await target.prepareIncoming(uri: "tcp:127.0.0.1:\(try QEMUTestbed.freePort())",
                                                 tls: MigrationTLS(clusterDirectory: pki, name: "host-z"), sourceName: nil)
                Issue.record("a target was readied without its certificate")
            } catch let error as TetherError {
                #expect(error.code == .notFound)
                #expect(error.message.contains("host-z.crt"))
            }
        }
    }

    /// Migrates a source (host-a) into a target readied with `targetTLS`, expecting a refusal:
    /// a `.permissionDenied` error well within the deadline, and the source still running.
    /// Returns the error and the target.
    static func refusedMigration(_ bed: QEMUTestbed, targetTLS: MigrationTLS, sourceName: String? = nil, sourceTLS: MigrationTLS,
                                 targetName: String) async throws -> (TetherError, target: QEMUMachine) {
        let source = try await bed.launch(VMSpec(name: "src", memoryMiB: 64))
        let target = try await bed.launch(VMSpec(name: "dst", memoryMiB: 64, incoming: true))
        let uri = "tcp:127.0.0.1:\(try QEMUTestbed.freePort())"
        try await target.prepareIncoming(uri: uri, tls: targetTLS, sourceName: sourceName)
        let start = ContinuousClock.now
        // Capped: a small VM's whole state fits in the socket's buffers, and a source that sent
        // it all before the target checked its certificate would call the migration complete
        // (precopy has no answer from the target at the end). The refusal takes milliseconds.
        let options = MigrationOptions(maxBandwidthBytesPerSecond: 2_000_000, timeout: .seconds(20), tls: sourceTLS, targetName: targetName)
        do {
            _ = try await source.migrateOut(uri: uri, options: options) { _ in }
        } catch let error as TetherError {
            #expect(error.code == .permissionDenied, "\(error)")
            #expect(ContinuousClock.now - start < .seconds(10), "refused at the handshake, not at the deadline")
            #expect(try await source.status() == .running)
            return (error, target)
        }
        Issue.record("the migration to a target the source should refuse completed")
        return (TetherError(.internalError, "not refused"), target)
    }
}
