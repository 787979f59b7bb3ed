import Foundation
import Hummingbird
import Logging
@testable import TetherServer
import HummingbirdTesting
import Testing
import TetherModel
import TetherTestSupport
import WebView
@testable import Controller
@testable import TetherHTTP

/// The web view in-process: the page says what the controller knows, in words and marks; its
/// sections come alone for the page's script; the event stream sends each event once, resumes
/// after `Last-Event-ID`, and the loopback listener serves viewers only, and only requests
/// addressed to the loopback.
@Suite(.serialized)
struct WebViewTests {
    static func controller() async throws -> Controller {
        let (store, _) = try ClusterFixtures.temporaryStore()
        let controller = try await Controller(store: store) { UnreachableAgent(host: $0.host) }
        try await controller.register(ClusterFixtures.hostA)
        try await controller.register(ClusterFixtures.hostB)
        // host-a's storage network down, one of its two paths too.
        let health = HostHealthReport(at: Date(), networks: [
            .management: NetworkReport(state: .up, address: "10.0.0.1"), .migration: NetworkReport(state: .up),
            .vm: NetworkReport(state: .up), .storage: NetworkReport(state: .down, address: "10.83.0.2", link: false),
        ], datastores: [DatastoreReport(name: "ds1", paths: [PathReport(uri: "nbd://10.83.0.1:10809", state: .down),
                                                             PathReport(uri: "nbd://10.84.0.1:10809", state: .up)])])
        _ = try await controller.heartbeat(host: "host-a", Heartbeat(health: health))
        return controller
    }

    @Test func thePageShowsHostsNetworksPathsVMsAndDevicesInWords() async throws {
        let controller = try await Self.controller()
        try await Application(router: ControllerRoutes.router(controller)).test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
                let page = String(buffer: response.body)
                #expect(page.hasPrefix("<!doctype html>"))
                #expect(page.contains("<html lang=\"en\">"))
                #expect(page.contains("<script src=\"/assets/view.js\" defer></script>"))
                #expect(page.contains("<article class=\"host\" data-host=\"host-a\""))
                // A state is a word and a mark, not only a colour.
                #expect(page.contains("<tr data-network=\"storage\"><th scope=\"row\">storage</th><td class=\"state bad\" data-field=\"state\"><span aria-hidden=\"true\">✗</span> down</td>"),
                        "\(page)")
                #expect(page.contains("<td class=\"state good\" data-field=\"state\"><span aria-hidden=\"true\">✓</span> up</td>"))
                #expect(page.contains("<code>nbd://10.83.0.1:10809</code>"))
                #expect(page.contains("<tr data-vm=\"vm-a\"><th scope=\"row\">vm-a</th><td data-field=\"host\">host-a</td>"), "\(page)")
                #expect(page.contains("data-device=\"host-b/1-3\""))
                #expect(page.contains("197.4 Mbit/s"), "the webcam's need, as tether status says it")
                #expect(page.contains("<caption>"))
                #expect(!page.contains("{{"), "every tag rendered")
            }
            try await client.execute(uri: "/view/sections", method: .get) { response in
                let sections = String(buffer: response.body)
                #expect(sections.hasPrefix("<section id=\"hosts\""))
                #expect(!sections.contains("<html"))
                for id in ["hosts", "vms", "devices", "attachments", "operations", "events"] {
                    #expect(sections.contains("<section id=\"\(id)\""), "section \(id)")
                }
            }
            try await client.execute(uri: "/assets/view.js", method: .get) { response in
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(String(buffer: response.body).contains("new EventSource(\"/v1/events/stream"))
            }
        }
    }

    @Test func anOperationShowsAsATimelineWithTheDecisionsReasons() async throws {
        let controller = try await Self.controller()
        _ = try await controller.attach(AttachRequest(container: "c1", device: .port(DeviceRef(host: "host-b", id: "1-4"))))
        try await Application(router: ControllerRoutes.router(controller)).test(.router) { client in
            try await client.execute(uri: "/view/sections", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("<article class=\"operation\" data-operation=\"op-1\""), "\(page)")
                #expect(page.contains("decided: forward"))
                #expect(page.contains("<ol class=\"timeline\" aria-label=\"Steps of op-1\">"))
            }
        }
    }

    @Test func valuesAreEscaped() throws {
        var status = ClusterStatus(hosts: [], attachments: [], operations: [])
        status.vms = [VMStatus(name: "<script>alert(1)</script>", host: "h&x", state: "running")]
        let html = try WebPage().sections(ClusterPage(status: status, operations: [], events: [], controller: "c", at: Date()))
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("h&amp;x"))
    }

    /// A live listener on the loopback, as `controller.web: 127.0.0.1:PORT` makes it.
    static func loopbackWeb(_ controller: Controller) async throws -> LiveServer {
        try await LiveServer(ControllerRoutes.router(ControllerSeat(leading: controller), access: .loopbackViewers, loopbackOnly: true))
    }

    @Test func theStreamSendsEachEventOnceAndResumesAfterLastEventID() async throws {
        let controller = try await Self.controller()
        let web = try await Self.loopbackWeb(controller)
        let before = await controller.recentEvents(limit: 1000).last?.sequence ?? 0
        let port = web.port
        // The fault is reported once the stream is open: it must come live, not from a replay.
        let reader = Task.detached {
            try RawHTTP.read(port: port, path: "/v1/events/stream?after=\(before)", timeout: 10) { $0.contains("\"kind\":\"fault\"") }
        }
        try await Task.sleep(for: .milliseconds(300))
        _ = try await controller.reportFault(FaultReport(host: "host-a", fault: .storage, evidence: ["a test"]), trigger: .selfTriggered)
        let text = try await reader.value
        #expect(text.hasPrefix("HTTP/1.1 200"), "\(text)")
        #expect(text.lowercased().contains("content-type: text/event-stream"), "\(text)")
        #expect(text.contains("retry: 2000"))
        let fault = try #require(text.split(separator: "\n").first { $0.hasPrefix("data: ") && $0.contains("\"kind\":\"fault\"") })
        let event = try APIJSON.decoder().decode(ClusterEvent.self, from: Data(fault.dropFirst(6).utf8))
        #expect(event.host == "host-a" && event.sequence > before)
        let id = "\(controller.eventEpoch)-\(event.sequence)"
        #expect(text.contains("id: \(id)\n"))
        // A reconnecting browser sends the last id it saw: nothing is sent twice.
        let again = try RawHTTP.read(port: port, path: "/v1/events/stream", headers: ["Last-Event-ID": id], timeout: 1.5) { _ in false }
        #expect(again.hasPrefix("HTTP/1.1 200"))
        #expect(!again.contains("id: \(id)\n"), "\(again)")
        // An id of another controller's numbering (a page from the leader before): this one's from its first.
        let elsewhere = try RawHTTP.read(port: port, path: "/v1/events/stream", headers: ["Last-Event-ID": "old0-\(event.sequence + 500)"],
                                         timeout: 5) { $0.contains("id: \(id)\n") }
        #expect(elsewhere.contains("id: \(controller.eventEpoch)-1\n") && elsewhere.contains("id: \(id)\n"), "\(elsewhere)")
        for resume in ["-3", "x_y-1", "Old-3", "-", "1-", "abc-def", "%2B5", "k3-%2B5", "1234567890123456789"] {
            let bad = try RawHTTP.read(port: port, path: "/v1/events/stream?after=\(resume)", timeout: 5) { $0.contains("}}") }
            #expect(bad.hasPrefix("HTTP/1.1 400"), "\(resume): \(bad)")
            #expect(bad.contains("\"code\":\"invalidArgument\""), "\(bad)")
        }
    }

    /// A standby hears no agents: its page says so and names the leader, instead of an empty cluster.
    @Test func aStandbysPageSaysItStandsByAndWhoLeads() throws {
        var status = ClusterStatus(hosts: [], attachments: [], operations: [])
        status.controllers = [ControllerStatus(name: "c1", leader: true, address: HostPort(host: "10.0.0.1", port: 7400)),
                              ControllerStatus(name: "c2", leader: false)]
        let page = try WebPage().page(ClusterPage(status: status, operations: [], events: [], controller: "c2", at: Date()))
        #expect(page.contains("c2 is a standby: only the leader hears the hosts, so none are shown here; c1 leads (API at 10.0.0.1:7400)"),
                "\(page)")
        #expect(!page.contains("No host has registered"))
        #expect(page.contains("data-after=\"0\""), "no epoch on a standby: its stream is refused anyway")
        let leader = try WebPage().page(ClusterPage(status: status, operations: [], events: [], controller: "c1", at: Date(), eventEpoch: "k3"))
        #expect(!leader.contains("is a standby") && leader.contains("data-after=\"k3-0\""))
    }

    @Test func theLoopbackListenerLetsViewersReadAndNobodyChangeAnything() async throws {
        let controller = try await Self.controller()
        let web = try await Self.loopbackWeb(controller)
        let client = APIClientForTests(port: web.port)
        let status = try await client.get("/v1/status")
        #expect(status.hasPrefix("HTTP/1.1 200"), "\(status)")
        let request = AttachRequest(container: "c1", device: .port(DeviceRef(host: "host-b", id: "1-4")))
        let attach = try await client.post("/v1/attachments", String(decoding: try APIJSON.encoder().encode(request), as: UTF8.self))
        #expect(attach.hasPrefix("HTTP/1.1 403"), "\(attach)")
        #expect(attach.contains("the role viewer may not attach devices"), "\(attach)")
        // DNS rebinding: a page of another site whose name now points at 127.0.0.1.
        let rebound = try RawHTTP.read(port: web.port, path: "/", host: "evil.example:\(web.port)", timeout: 5) { $0.contains("}}") }
        #expect(rebound.hasPrefix("HTTP/1.1 403"), "\(rebound)")
        #expect(rebound.contains("serves the loopback only"))
        let page = try RawHTTP.read(port: web.port, path: "/", host: "localhost:\(web.port)", timeout: 5) { $0.contains("</html>") }
        #expect(page.hasPrefix("HTTP/1.1 200"), "\(page)")
    }

    @Test(arguments: [("127.0.0.1:7480", true), ("localhost", true), ("[::1]:80", true), ("::1", true), ("127.3.4.5", true),
                      ("LOCALHOST:7480", true), ("[::ffff:127.0.0.1]", false),
                      ("10.0.0.1:7480", false), ("evil.example", false), ("localhost.evil.example", false), ("", false),
                      // Names that only start like the loopback are other machines' (DNS rebinding).
                      ("127.attacker.example", false), ("127.0.0.1.nip.io:7480", false), ("127.0.0.1:7480x", false),
                      ("[::1]evil", false), ("[::1", false), ("::2", false), ("128.0.0.1", false)])
    func loopbackNames(_ authority: String, _ loopback: Bool) {
        #expect(Loopback.names(authority: authority) == loopback)
    }
}

/// Plain HTTP/1.1 on the loopback with `Connection: close`, whole answers as text.
struct APIClientForTests {
    let port: Int

    func get(_ path: String) async throws -> String {
        try RawHTTP.read(port: port, path: path, timeout: 5) { $0.contains("\r\n\r\n") && $0.hasSuffix("}") }
    }

    func post(_ path: String, _ body: String) async throws -> String {
        try RawHTTP.read(port: port, path: path, method: "POST", body: body, timeout: 5) { $0.contains("\r\n\r\n") && $0.hasSuffix("}") }
    }
}

extension WebViewTests {
    @Test func timesReadAsUTCToTheMillisecond() throws {
        var status = ClusterStatus(hosts: [], attachments: [], operations: [])
        status.vms = [VMStatus(name: "vm-a", host: "host-a", state: "running")]
        let at = try #require(APIJSON.time("2026-12-04T04:05:09.250Z"))
        let event = ClusterEvent(sequence: 7, at: at, kind: .network, host: "host-a", subject: "storage", from: "up", to: "down")
        let html = try WebPage().sections(ClusterPage(status: status, operations: [], events: [event], controller: "c", at: at))
        #expect(html.contains("<time datetime=\"2026-12-04T04:05:09.250Z\">04:05:09.250</time>"), "\(html)")
        #expect(html.contains("storage: up → down"))
    }
}

extension WebViewTests {
    /// Off the loopback a browser must show a certificate: without the controller's TLS there is
    /// no way to ask for one, and tetherd says so instead of serving the cluster to anyone.
    @Test func aWebListenerOffTheLoopbackNeedsTLS() async throws {
        let controller = try await Self.controller()
        let seat = ControllerSeat(leading: controller)
        let error = #expect(throws: TetherError.self) {
            _ = try ControllerDaemon.webListener(HostPort(host: "0.0.0.0", port: 7480), seat: seat, identity: nil, logger: Logger(label: "test"))
        }
        #expect(error?.message.contains("needs controller.tls") == true, "\(String(describing: error))")
    }

    @Test func theWebListenerServesViewersOnly() {
        #expect(ControllerDaemon.webAccess(HostPort(host: "127.0.0.1", port: 7480)) == (.loopbackViewers, true))
        #expect(ControllerDaemon.webAccess(HostPort(host: "10.0.0.1", port: 7480)) == (.webViewers, false))
        #expect(ControllerDaemon.webAccess(HostPort(host: "0.0.0.0", port: 7480)) == (.webViewers, false))
    }
}
