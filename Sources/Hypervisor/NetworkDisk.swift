import TetherModel

/// One IO path to a datastore: an NBD server's address as the agent's configuration spells it,
/// `nbd://HOST:PORT` (an IPv6 host in brackets). The export is the disk's, not the path's: every
/// export of a datastore is reached through each of its paths.
public struct NBDPath: Sendable, Hashable, Codable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public static let defaultPort = 10809

    public init(host: String, port: Int = NBDPath.defaultPort) {
        self.host = host
        self.port = port
    }

    /// Parses `nbd://HOST[:PORT]`; anything else (another scheme, an export name, a port out of
    /// range) is refused with what was wrong, since a path that is quietly misread is a disk
    /// that does not open on the day it is needed.
    public init(parsing uri: String) throws(TetherError) {
        let scheme = "nbd://"
        guard uri.hasPrefix(scheme) else {
            throw Self.malformed(uri, "it must start with nbd:// (nbd+unix and TLS paths are not supported)")
        }
        var rest = Substring(uri.dropFirst(scheme.count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("?") else {
            throw Self.malformed(uri, "a path is only HOST:PORT; the export name belongs to the VM's disk")
        }
        let host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw Self.malformed(uri, "an IPv6 address needs its closing ]") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw Self.malformed(uri, "expected :PORT after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw Self.malformed(uri, "write an IPv6 address in brackets: nbd://[ADDRESS]:PORT") }
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }) else {
            throw Self.malformed(uri, "the host is missing or has characters no host name or address has")
        }
        var port = Self.defaultPort
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw Self.malformed(uri, "the port must be a number from 1 to 65535")
            }
            port = number
        }
        self.init(host: String(host), port: port)
    }

    private static func malformed(_ uri: String, _ why: String) -> TetherError {
        TetherError(.invalidArgument, "'\(uri)' is not an NBD path: \(why) (expected nbd://HOST:PORT)")
    }

    /// `nbd://HOST:PORT`, the form it was configured in.
    public var description: String { "nbd://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// QEMU's `InetSocketAddress` for this path, with TCP keep-alive: an idle disk's dead link is
    /// otherwise never noticed (a busy one is noticed through the retransmission limit).
    var qemuServer: JSONValue {
        ["type": "inet", "host": .string(host), "port": .string(String(port)), "keep-alive": true]
    }
}

/// A VM disk that is an export of a datastore, reached through one of several IO paths (NBD
/// servers). QEMU opens it on the first path; `QEMUMachine.switchDiskPath(to:)` moves it to
/// another while the VM runs or after the current path failed.
public struct NetworkDisk: Sendable, Hashable, Codable {
    /// The datastore's paths, the preferred first.
    public var paths: [NBDPath]
    /// The export name on the datastore: the VM's `disk`.
    public var export: String

    public init(paths: [NBDPath], export: String) throws(TetherError) {
        guard !paths.isEmpty else { throw TetherError(.invalidArgument, "the disk '\(export)' has no path to its datastore") }
        guard !export.isEmpty, export.utf8.count <= 4096, !export.contains(where: { $0.isNewline || $0 == "/" }) else {
            throw TetherError(.invalidArgument, "'\(export)' is not an export name: it must be 1 to 4096 bytes, without / or line breaks")
        }
        guard Set(paths).count == paths.count else {
            throw TetherError(.invalidArgument, "the disk '\(export)' lists a path twice: \(paths.map(\.description))")
        }
        self.paths = paths
        self.export = export
    }

    /// From the configuration's strings (`nbd://HOST:PORT` each).
    public init(uris: [String], export: String) throws(TetherError) {
        var paths: [NBDPath] = []
        for uri in uris { paths.append(try NBDPath(parsing: uri)) }
        try self.init(paths: paths, export: export)
    }

    /// The guest's device: its id is what a migration's two ends must agree on; block node names
    /// need not match (QEMU migrates the device's state, not the block graph).
    public static let deviceID = "disk0"

    /// The names of one generation of the disk's two nodes. A path switch adds the next
    /// generation before it removes the current one, so names never collide.
    static func nodeNames(generation: Int) -> (nbd: String, format: String) {
        ("disk0-nbd\(generation)", "disk0-fmt\(generation)")
    }

    /// The generation a node name belongs to, for the names `nodeNames` gives.
    static func generation(ofNode name: String) -> Int? {
        for prefix in ["disk0-nbd", "disk0-fmt"] where name.hasPrefix(prefix) { return Int(name.dropFirst(prefix.count)) }
        return nil
    }

    /// The `blockdev-add` arguments of one generation over `path`. `reconnect-delay` 0: a request
    /// on a broken connection fails at once, so the device stops the VM (werror=stop) instead of
    /// holding the guest's IO while the client tries to reconnect.
    func nodes(over path: NBDPath, generation: Int) -> (nbd: JSONValue, format: JSONValue) {
        let names = Self.nodeNames(generation: generation)
        let nbd: JSONValue = ["driver": "nbd", "node-name": .string(names.nbd), "server": path.qemuServer,
                              "export": .string(export), "reconnect-delay": 0]
        let format: JSONValue = ["driver": "raw", "node-name": .string(names.format), "file": .string(names.nbd)]
        return (nbd, format)
    }

    /// QEMU's arguments for the disk on `path` (generation 0). `werror`/`rerror=stop`: a failed
    /// request pauses the VM (`io-error`) with the request held by the device, to be issued again
    /// by `cont`, over whatever path the disk has by then; the guest never sees the error.
    func arguments(over path: NBDPath) throws(TetherError) -> [String] {
        let (nbd, format) = nodes(over: path, generation: 0)
        return ["-blockdev", try nbd.jsonText(), "-blockdev", try format.jsonText(),
                "-device", "virtio-blk-pci,drive=\(Self.nodeNames(generation: 0).format),id=\(Self.deviceID),"
                    + "werror=stop,rerror=stop,bootindex=0"]
    }
}

extension NetworkDisk {
    /// The path and export a QEMU NBD node's filename names, `nbd://HOST:PORT/EXPORT` (IPv6
    /// hosts in brackets); nil for anything else.
    static func location(ofNodeFilename filename: String) -> (path: NBDPath, export: String)? {
        guard filename.hasPrefix("nbd://") else { return nil }
        let rest = filename.dropFirst("nbd://".count)
        let authority = rest.prefix { $0 != "/" }
        guard let path = try? NBDPath(parsing: "nbd://\(authority)") else { return nil }
        return (path, String(rest.dropFirst(authority.count + 1)))
    }
}
