import Foundation
import Testing
import TetherModel
import TetherTestKit
import TetherTestSupport
@testable import Controller

/// The page's script in a real browser (headless Chromium) against an in-process controller:
/// heartbeats change only the hosts' "last heard" times, which are updated in place (the hosts
/// section is never swapped, nothing is announced for them); an event swaps the events section,
/// the keyboard's focus stays in its list, and the live region says that the events changed.
struct WebViewBrowserTests {
    @Test(.requires(Browser.available, Browser.missing))
    func heartbeatsUpdateInPlaceAndAnEventSwapsOnlyItsSection() async throws {
        let controller = try await WebViewTests.controller()
        let web = try await WebViewTests.loopbackWeb(controller)
        // Both hosts heard twice a second: only their times change.
        let beating = Task {
            while !Task.isCancelled {
                for host in ["host-a", "host-b"] { _ = try? await controller.heartbeat(host: host, Heartbeat()) }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        defer { beating.cancel() }
        let heard = "document.querySelector('[data-host=\"host-a\"] [data-volatile]').textContent"
        let setup = "window.__hosts = document.getElementById('hosts'); window.__heard = \(heard); window.__said = [];"
            + " new MutationObserver(() => window.__said.push(document.getElementById('live').textContent))"
            + ".observe(document.getElementById('live'), {childList: true, characterData: true, subtree: true});"
            + " document.getElementById('event-list').focus();"
        let watcher = try await BackgroundProcess("/usr/bin/env", [
            "python3", Browser.script, "watch", "http://127.0.0.1:\(web.port)/",
            "--setup", setup,
            "--expect", "heard-updated=\(heard) !== window.__heard",
            "--expect", "event-shown=[...document.querySelectorAll('#event-list li')].some(li => li.textContent.includes('browser-test'))",
            "--final", "hosts-kept=window.__hosts === document.getElementById('hosts')",
            "--final", "focus=document.activeElement?.id || document.activeElement?.tagName",
            "--final", "said=JSON.stringify(window.__said)",
            "--timeout", "40",
        ])
        guard watcher.waitForLine(timeout: 60, where: { $0.contains("\"event\": \"ready\"") }) != nil else {
            Issue.record("the page did not load in chromium: \(watcher.output)")
            return
        }
        // One refresh with only the times changed (every 5 s), then an event.
        try await Task.sleep(for: .seconds(6))
        await controller.note(ClusterEvent(at: Date(), kind: .host, host: "host-b", subject: "browser-test", from: nil, to: "seen"))
        _ = await watcher.waitForExit(timeout: 60)
        let lines = watcher.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let done = try #require(lines.first { $0["event"] as? String == "done" }, "\(watcher.output)")
        let finals = done["finals"] as? [String: Any] ?? [:]
        #expect((done["missing"] as? [String])?.isEmpty == true, "both seen: \(watcher.output)")
        #expect(done["reloaded"] as? Bool == false, "\(watcher.output)")
        #expect(finals["hosts-kept"] as? Bool == true, "the hosts section was never swapped for its times: \(watcher.output)")
        #expect(finals["focus"] as? String == "event-list", "the focus stayed in the events list: \(watcher.output)")
        let said = try JSONDecoder().decode([String].self, from: Data((finals["said"] as? String ?? "[]").utf8))
        #expect(said.contains { $0.hasPrefix("Updated events") }, "the events' change was announced: \(said)")
        #expect(!said.contains { $0.contains("hosts") }, "nothing announced for the hosts' times: \(said)")
    }
}
