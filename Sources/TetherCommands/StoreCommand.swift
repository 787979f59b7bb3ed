import ArgumentParser
import ClusterStore
import ClusterStoreEtcd
import TetherModel

/// `tether store migrate`: a cluster that outgrows its embedded SQLite store moves its state to
/// etcd, ids and journal order kept, with the controller stopped.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Move the controllers' state between stores.",
                                                    subcommands: [Migrate.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a SQLite store into a new etcd store (stop the controller first).",
            discussion: "Example: tether store migrate --from sqlite:/var/lib/tether/tether.sqlite --to etcd://10.0.0.1:2379,10.0.0.2:2379")

        @Option(help: "The store to read: sqlite:PATH (or a path).") var from: String
        @Option(help: "The store to write: etcd://HOST:PORT[,HOST:PORT...], with no journal yet.") var to: String
        @Option(help: "The key prefix in etcd (the controllers' etcd.prefix).") var prefix: String = "/tether"
        @Option(help: "etcd's CA, with --etcd-cert and --etcd-key: TLS with a client certificate.") var etcdCa: String?
        @Option(help: "This client's certificate for etcd.") var etcdCert: String?
        @Option(help: "This client's key for etcd.") var etcdKey: String?

        func run() async throws {
            try await FailureReporting.run {
                guard case .sqlite(let path) = try StoreAddress(from) else {
                    throw TetherError(.invalidArgument, "--from must be a SQLite store (sqlite:PATH), not '\(from)'")
                }
                guard case .etcd(let endpoints) = try StoreAddress(to) else {
                    throw TetherError(.invalidArgument, "--to must be etcd://HOST:PORT[,HOST:PORT...], not '\(to)'")
                }
                var tls: EtcdClient.TLSFiles?
                switch (etcdCa, etcdCert, etcdKey) {
                case (nil, nil, nil): tls = nil
                case (let ca?, let cert?, let key?): tls = .init(ca: ca, cert: cert, key: key)
                default: throw TetherError(.invalidArgument, "etcd TLS needs all three of --etcd-ca, --etcd-cert and --etcd-key")
                }
                let source = try SQLiteClusterStore(path: path)
                // The controller must be stopped: its file lock says whether it is.
                let lease = try await FileControllerLease(path: path + ".lock", wait: .zero)
                defer { Task { await lease.release() } }
                let client = try EtcdClient(endpoints: endpoints, tls: tls)
                let count = try await EtcdClusterStore(client: client, prefix: prefix).importState(from: source)
                await client.close()
                print("copied \(count.registrations) hosts, \(count.attachments) attachments, \(count.operations) operations "
                      + "(\(count.steps) steps) from \(path) to \(to) under \(prefix)")
                print("now set the controllers' store to \(to) and start them")
            }
        }
    }
}
