import Foundation
import TetherSystem
import Testing
import TetherTestKit
import TetherTestSupport

/// The channel between two "hosts": network namespaces joined by a veth pair, as CI (root) makes
/// them. The device's host runs `serve` and an echo target; the VM's host runs `connect` and a
/// client that checks every byte comes back.
@Suite(.serialized, .requires(NetworkNamespaces.canCreate, "needs root and iproute2 to make network namespaces (CI runs as root)"))
struct NetworkNamespaceTests {
    @Test func aStreamCrossesBetweenHostsIntactAndAVanishingServerIsReported() async throws {
        let hosts = try await NetworkNamespaces()
        defer { hosts.remove() }
        let pki = try Fixtures.temporaryDirectory().path
        for arguments in [["certs", "init", "--dir", pki], ["certs", "issue", "--dir", pki, "--name", "device-host"],
                          ["certs", "issue", "--dir", pki, "--name", "vm-host"]] {
            #expect(try await ProcessRunner.run(Tools.product("tether"), arguments).status == 0)
        }
        let tether = Tools.product("tether")
        let echo = try await BackgroundProcess("/usr/bin/env", hosts.exec(hosts.deviceHost, ["socat", "TCP-LISTEN:7001,bind=127.0.0.1,reuseaddr,fork", "EXEC:cat"]))
        let serve = try await BackgroundProcess("/usr/bin/env", hosts.exec(hosts.deviceHost, [
            tether, "channel", "serve", "--listen", "\(hosts.deviceAddress):7000", "--forward-to", "127.0.0.1:7001",
            "--tls-dir", pki, "--name", "device-host", "--allow", "vm-host"]))
        let connect = try await BackgroundProcess("/usr/bin/env", hosts.exec(hosts.vmHost, [
            tether, "channel", "connect", "--listen", "127.0.0.1:7002", "--to", "\(hosts.deviceAddress):7000",
            "--tls-dir", pki, "--name", "vm-host", "--allow", "device-host"]))
        defer {
            // SIGTERM without waiting (a defer cannot await); each one's deinit kills it too.
            for process in [serve, connect, echo] { process.terminate() }
        }
        #expect(serve.waitForOutput("serving on"), "\(serve.output)")
        #expect(connect.waitForOutput("connecting on"), "\(connect.output)")

        // 16 MiB out and echoed back, hashed both ways, from inside the VM's host.
        let client = try await ProcessRunner.run("/usr/bin/env", hosts.exec(hosts.vmHost, ["python3", "-c", NetworkNamespaces.echoClient, "7002", "\(16 << 20)"]),
                                           timeout: 120)
        #expect(client.status == 0, "\(client.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(client.stdout.utf8)) as? [String: Any]
        #expect(result?["received"] as? Int == 16 << 20)
        #expect(result?["sent_sha"] as? String == result?["received_sha"] as? String, "every byte crossed both ways intact")
        #expect(serve.output.contains("admitted"), "\(serve.output)")

        // The device's host dies mid-stream: the VM's host closes its side and says so.
        let slow = try await BackgroundProcess("/usr/bin/env", hosts.exec(hosts.vmHost, ["python3", "-c", NetworkNamespaces.slowClient, "7002"]))
        #expect(slow.waitForOutput("streaming"), "\(slow.output)")
        serve.kill()
        #expect(slow.waitForOutput("closed by peer", timeout: 15), "the client's stream ends, not hangs: \(slow.output)")
        #expect(connect.waitForOutput("closed"), "\(connect.output)")
    }
}

/// Two throwaway network namespaces with a veth link: the project's own test hosts.
struct NetworkNamespaces {
    let deviceHost: String, vmHost: String
    let deviceAddress = "10.233.77.1"
    let vmAddress = "10.233.77.2"

    static var canCreate: Bool { getuid() == 0 && Tools.which("ip") != nil && Tools.which("socat") != nil }

    init() async throws {
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        deviceHost = "tq-dev-\(tag)"
        vmHost = "tq-vm-\(tag)"
        let steps: [[String]] = [
            ["netns", "add", deviceHost], ["netns", "add", vmHost],
            ["link", "add", "tqd\(tag)", "type", "veth", "peer", "name", "tqv\(tag)"],
            ["link", "set", "tqd\(tag)", "netns", deviceHost], ["link", "set", "tqv\(tag)", "netns", vmHost],
            ["-n", deviceHost, "addr", "add", "\(deviceAddress)/30", "dev", "tqd\(tag)"],
            ["-n", vmHost, "addr", "add", "\(vmAddress)/30", "dev", "tqv\(tag)"],
            ["-n", deviceHost, "link", "set", "tqd\(tag)", "up"], ["-n", vmHost, "link", "set", "tqv\(tag)", "up"],
            ["-n", deviceHost, "link", "set", "lo", "up"], ["-n", vmHost, "link", "set", "lo", "up"],
        ]
        for step in steps {
            let result = try await ProcessRunner.run(Tools.which("ip") ?? "/usr/sbin/ip", step)
            guard result.status == 0 else {
                remove()
                throw POSIXError(.EPERM, userInfo: [NSLocalizedDescriptionKey: "ip \(step.joined(separator: " ")): \(result.stderr)"])
            }
        }
    }

    func exec(_ namespace: String, _ command: [String]) -> [String] {
        ["ip", "netns", "exec", namespace] + command
    }

    func remove() {
        // Synchronous (it runs in `defer`): our own posix_spawn wrapper.
        for namespace in [deviceHost, vmHost] { _ = try? ChildProcess.run(Tools.which("ip") ?? "/usr/sbin/ip", ["netns", "del", namespace]) }
    }

    static let echoClient = """
        import hashlib, json, os, socket, sys, threading
        port, size = int(sys.argv[1]), int(sys.argv[2])
        s = socket.create_connection(("127.0.0.1", port))
        data = os.urandom(size)
        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send); t.start()
        h = hashlib.sha256(); n = 0
        while True:
            chunk = s.recv(1 << 16)
            if not chunk: break
            h.update(chunk); n += len(chunk)
        t.join()
        print(json.dumps({"received": n, "sent_sha": hashlib.sha256(data).hexdigest(), "received_sha": h.hexdigest()}))
        """

    static let slowClient = """
        import socket, sys, time
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        print("streaming", flush=True)
        try:
            for i in range(600):
                s.sendall(b"x" * 1024)
                s.settimeout(0.05)
                try:
                    if s.recv(1 << 16) == b"":
                        print("closed by peer", flush=True); break
                except socket.timeout:
                    pass
                time.sleep(0.05)
        except OSError as e:
            print("closed by peer:", e, flush=True)
        """
}
