import ClusterStore
import ClusterStoreEtcd
import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport

/// The store over TLS to an etcd that requires client certificates (`--client-cert-auth`): with
/// the controller's certificate it reads and writes; without one, or with one from another CA,
/// it is refused with an error that says so, and nothing is written.
@Suite(.requires(EtcdTestCluster.available && Tools.which("openssl") != nil, "etcd (Debian's etcd-server) and openssl"))
struct EtcdTLSTests {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate, EC P-256, by openssl.
    static func pki(_ directory: String, ca name: String = "ca") throws {
        let steps = [
            ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "\(directory)/\(name).key"],
            ["req", "-x509", "-new", "-key", "\(directory)/\(name).key", "-subj", "/CN=\(name)", "-days", "2", "-out", "\(directory)/\(name).crt"],
        ]
        for step in steps { try openssl(step) }
        for (leaf, ext) in [("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                            ("client", "extendedKeyUsage=clientAuth")] {
            try ext.write(toFile: "\(directory)/\(name)-\(leaf).ext", atomically: true, encoding: .utf8)
            try openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "\(directory)/\(name)-\(leaf).key"])
            try openssl(["req", "-new", "-key", "\(directory)/\(name)-\(leaf).key", "-subj", "/CN=\(leaf)", "-out", "\(directory)/\(name)-\(leaf).csr"])
            try openssl(["x509", "-req", "-in", "\(directory)/\(name)-\(leaf).csr", "-CA", "\(directory)/\(name).crt", "-CAkey", "\(directory)/\(name).key",
                         "-CAcreateserial", "-days", "2", "-extfile", "\(directory)/\(name)-\(leaf).ext", "-out", "\(directory)/\(name)-\(leaf).crt"])
        }
    }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tools.which("openssl")!)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TetherError(.io, "openssl \(arguments.joined(separator: " ")) failed") }
    }

    @Test func theStoreSpeaksTLSWithAClientCertificateAndIsRefusedWithout() async throws {
        let directory = try Fixtures.temporaryDirectory().path
        try Self.pki(directory)
        try Self.pki(directory, ca: "other")
        let etcd = try await EtcdTestCluster(directory: "\(directory)/etcd",
                                             tls: ("\(directory)/ca.crt", "\(directory)/ca-server.crt", "\(directory)/ca-server.key"))
        defer { etcd.killAll() }
        let good = EtcdClient.TLSFiles(ca: "\(directory)/ca.crt", cert: "\(directory)/ca-client.crt", key: "\(directory)/ca-client.key")
        let store = EtcdClusterStore(client: try EtcdClient(endpoints: etcd.endpoints, tls: good), prefix: "/tls")
        let a = ClusterStoreConformance.attachment()
        var written: OperationRecord?
        for _ in 0..<100 where written == nil {   // the member starts
            written = try? await store.begin(.attach(a, decision: ClusterStoreConformance.decision(a)), at: ClusterStoreConformance.t0)
            if written == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let record = try #require(written, "a write over TLS with the client certificate")
        #expect(try await store.operation(record.id)?.attachment == a)

        let strangers = [
            EtcdClient.TLSFiles(ca: "\(directory)/ca.crt", cert: "\(directory)/other-client.crt", key: "\(directory)/other-client.key"),
        ]
        for files in strangers {
            let refused = EtcdClusterStore(client: try EtcdClient(endpoints: etcd.endpoints, tls: files), prefix: "/tls")
            await #expect(throws: TetherError.self, "a certificate from another CA is refused") {
                try await refused.begin(.attach(ClusterStoreConformance.attachment(device: "host-b/9-9"),
                                                decision: ClusterStoreConformance.decision(ClusterStoreConformance.attachment(device: "host-b/9-9"))),
                                        at: ClusterStoreConformance.t0)
            }
        }
        let plain = EtcdClusterStore(client: try EtcdClient(endpoints: etcd.endpoints), prefix: "/tls")
        await #expect(throws: TetherError.self, "plain HTTP to a TLS member is refused") { try await plain.attachments() }
        #expect(try await store.unfinishedOperations().map(\.id) == [record.id], "nothing was written by the refused clients")
        #expect(throws: TetherError.self, "missing TLS files are a clear error") {
            _ = try EtcdClient(endpoints: etcd.endpoints, tls: .init(ca: "/nonexistent/ca.crt", cert: "x", key: "y"))
        }
    }
}
