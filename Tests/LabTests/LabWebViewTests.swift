import Foundation
import Lab
import TetherModel
import TetherTestKit
import TetherTestSupport
import Testing

/// The web view in a real browser (headless Chromium) on the lab: the page, opened once, shows
/// the storage network of vm-a's host going down and vm-a running on another host, each within
/// seconds, without a reload (a marker set at load is still there), refreshed by its script on
/// the events stream. The lab's controller serves the page on its namespace's loopback, which
/// `tether lab up` forwards to this machine's 127.0.0.1:7480.
extension LabFailoverTests {
    @Test(.requires(Browser.available, Browser.missing))
    func aBrowserSeesTheStorageLossAndTheMoveLive() async throws {
        let host = try await LabFailover.hostOf("vm-a")
        let storageDown = "document.querySelector('[data-host=\"\(host)\"] tr[data-network=\"storage\"] [data-field=\"state\"]')"
            + "?.textContent.includes('down')"
        let moved = "(() => { const row = document.querySelector('tr[data-vm=\"vm-a\"]'); return !!row"
            + " && row.querySelector('[data-field=\"host\"]').textContent !== '\(host)'"
            + " && row.querySelector('[data-field=\"state\"]').textContent === 'running' })()"
        let shot = "\(SharedLab.logsDirectory)/web-view-after-failover.png"
        try? FileManager.default.createDirectory(atPath: SharedLab.logsDirectory, withIntermediateDirectories: true)
        let watcher = try await BackgroundProcess("/usr/bin/env", [
            "python3", Browser.script, "watch", "http://127.0.0.1:\(LabLayout.webPort)/",
            "--expect", "storage-down=\(storageDown)", "--expect", "moved=\(moved)", "--timeout", "90", "--shot", shot,
            // A keyboard user in the events list: its section is swapped at each event, and the
            // focus must follow to the new list, not fall back to the page's start.
            "--setup", "document.getElementById('event-list').focus()",
            "--final", "focus=document.activeElement?.id || document.activeElement?.tagName",
        ])
        guard watcher.waitForLine(timeout: 60, where: { $0.contains("\"event\": \"ready\"") }) != nil else {
            Issue.record("the page did not load in chromium: \(watcher.output)")
            return
        }
        let since = try await LabProbe.events().last?.sequence ?? 0
        let injected = Date()
        try await LabStorageLoss.run(trigger: .selfTriggered)
        _ = await watcher.waitForExit(timeout: 100)
        let lines = watcher.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        func seen(_ name: String) -> Date? {
            (lines.first { $0["event"] as? String == "seen" && $0["name"] as? String == name }?["at"] as? Double)
                .map { Date(timeIntervalSince1970: $0) }
        }
        let done = lines.first { $0["event"] as? String == "done" }
        #expect(done?["reloaded"] as? Bool == false, "the page was not reloaded: \(watcher.output)")
        #expect((done?["updates"] as? Int ?? 0) > 0, "its script refreshed it: \(watcher.output)")
        #expect((done?["finals"] as? [String: Any])?["focus"] as? String == "event-list", "the focus stayed in the events list: \(watcher.output)")
        #expect((done?["live"] as? String)?.hasPrefix("Updated ") == true, "the live region told what changed: \(watcher.output)")
        let down = try #require(seen("storage-down"), "the page showed \(host)'s storage network down: \(watcher.output)")
        let away = try #require(seen("moved"), "the page showed vm-a running on another host: \(watcher.output)")
        // The controller's own moment for each: the network's event, and the failover's last step.
        let events = try await LabProbe.events().filter { $0.sequence > since }
        let known = events.first { $0.kind == .network && $0.host == host && $0.subject == "storage" && $0.to == "down" }?.at
        let ran = events.last { $0.kind == .operation && $0.from == "failover" }?.at
        print("web view: \(host)'s storage shown down \(String(format: "%.2f", down.timeIntervalSince(injected))) s after the cut"
              + (known.map { String(format: " (%.2f s after the controller knew)", down.timeIntervalSince($0)) } ?? "")
              + "; vm-a shown moved \(String(format: "%.2f", away.timeIntervalSince(injected))) s after the cut"
              + (ran.map { String(format: " (%.2f s after the failover completed)", away.timeIntervalSince($0)) } ?? ""))
        #expect(down.timeIntervalSince(injected) < 15, "storage shown down within seconds of the cut")
        if let known { #expect(down.timeIntervalSince(known) < 3, "within seconds of the controller knowing") }
        if let ran { #expect(away.timeIntervalSince(ran) < 3, "vm-a's move shown within seconds of the failover's end") }
    }
}
