import Foundation
import Placement
import TetherModel

/// The page as the templates read it: words, not values. Every state is a word and a mark
/// (✓ ✗ ~ ?), so that the page reads the same without colour; colour only repeats it.
struct PageModel {
    struct Host {
        var name: String
        var verdict: String
        var mark: String
        var tone: String
        var up: Bool
        var summary: String
        var reasons: [String]
        var hasReasons: Bool
        var networks: [Network]
        var paths: [Path]
        var heard: String
    }

    struct Network {
        var role: String
        var state: String
        var mark: String
        var tone: String
        var address: String
        var since: String
        var since8601: String?
    }

    struct Path {
        var datastore: String
        var uri: String
        var state: String
        var mark: String
        var tone: String
        var since: String
        var since8601: String?
    }

    struct VM {
        var name: String
        var host: String
        var state: String
        var tone: String
    }

    struct Device {
        var ref: String
        var name: String
        var needs: String
        var source: String
        var declared: String
        var profile: String
        var observedPeak: String
        var observedLast: String
        var advice: String?
    }

    struct Attachment {
        var id: String
        var device: String
        var container: String
        var vm: String
        var vmHost: String
        var mode: String
        var since: String
        var lost: String?
    }

    struct Operation {
        var id: String
        var kind: String
        var summary: String
        var state: String
        var tone: String
        var running: Bool
        var created: String
        var created8601: String
        var updated: String
        var reasons: [String]
        var hasReasons: Bool
        var error: String?
        var progress: String?
        var steps: [Step]
    }

    struct Step {
        var at: String
        var at8601: String
        var step: String
        var phase: String
        var mark: String
        var detail: String?
    }

    struct Event {
        var sequence: Int
        var at: String
        var at8601: String
        var kind: String
        var host: String?
        var subject: String
        var change: String
        var detail: String?
    }

    struct Controller {
        var name: String
        var role: String
        var address: String?
    }

    var controller: String
    var store: String?
    var controllers: [Controller]
    var hasControllers: Bool
    var leaderless: Bool
    var generated: String
    var generated8601: String
    var lastEvent: String
    /// This controller stands by: who leads, whose page shows the hosts.
    var standby: Bool
    var leader: Controller?
    var hosts: [Host]
    var vms: [VM]
    var devices: [Device]
    var attachments: [Attachment]
    var operations: [Operation]
    var events: [Event]
}

extension PageModel {
    init(_ page: ClusterPage, timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current) {
        let clock = Clock(timeZone: timeZone)
        let status = page.status
        controller = page.controller
        store = status.store
        controllers = status.controllers.map { Controller(name: $0.name, role: $0.leader ? "leader" : "standby", address: $0.address?.description) }
        hasControllers = !controllers.isEmpty
        leaderless = !status.controllers.isEmpty && !status.controllers.contains { $0.leader }
        generated = clock.time(page.at)
        generated8601 = APIJSON.time(page.at)
        lastEvent = page.lastEventID
        standby = status.controllers.contains { $0.name == page.controller && !$0.leader }
        leader = controllers.first { $0.role == "leader" }
        hosts = status.hosts.map { Self.host($0, clock) }
        vms = status.vms.map { VM(name: $0.name, host: $0.host, state: $0.state, tone: Self.tone(vmState: $0.state)) }
        devices = status.hosts.flatMap { host in
            host.registration.devices.map { Self.device($0, on: host.name, figures: status.devices) }
        }
        attachments = status.attachments.map {
            Attachment(id: $0.id, device: $0.device.description, container: $0.container, vm: $0.vm, vmHost: $0.vmHost,
                       mode: $0.mode.rawValue, since: clock.time($0.since), lost: $0.lost)
        }
        operations = page.operations.map { Self.operation($0, clock) }
        events = page.events.reversed().map { e in
            Event(sequence: e.sequence, at: clock.time(e.at), at8601: APIJSON.time(e.at), kind: e.kind.rawValue, host: e.host,
                  subject: e.subject, change: (e.from.map { "\($0) → " } ?? "") + e.to,
                  detail: e.detail.isEmpty ? nil : e.detail.joined(separator: "; "))
        }
    }

    static func host(_ host: HostStatus, _ clock: Clock) -> Host {
        let r = host.registration
        let networks = host.networks.sorted { $0.key < $1.key }.map { role, n in
            Network(role: role.rawValue, state: n.state.rawValue, mark: mark(n.state), tone: tone(n.state), address: n.address ?? "",
                    since: n.since.map { clock.time($0) } ?? "", since8601: n.since.map { APIJSON.time($0) })
        }
        let paths = host.datastores.flatMap { store in
            store.paths.map { Path(datastore: store.name, uri: $0.uri, state: $0.state.rawValue, mark: mark($0.state), tone: tone($0.state),
                                   since: $0.since.map { clock.time($0) } ?? "", since8601: $0.since.map { APIJSON.time($0) }) }
        }
        let verdict = host.condition.verdict
        let verdictTone = switch verdict {
        case .healthy: "good"
        case .degraded, .silent: "warn"
        default: "bad"
        }
        return Host(name: host.name, verdict: verdict.rawValue, mark: verdictTone == "good" ? "✓" : verdictTone == "warn" ? "~" : "✗", tone: verdictTone,
                    up: host.up, summary: "\(r.cpus) cpus, \(r.memoryMiB) MiB, agent \(r.agentAddress)", reasons: host.condition.reasons,
                    hasReasons: !host.condition.reasons.isEmpty,
                    networks: networks, paths: paths, heard: host.lastHeartbeat.map { clock.time($0) } ?? "never")
    }

    static func device(_ d: RegisteredDevice, on host: String, figures all: [DeviceFigures]) -> Device {
        let ref = DeviceRef(host: host, id: d.id)
        let name = [d.vendorId.map { "\($0):\(d.productId ?? "????")" }, d.product].compactMap { $0 }.joined(separator: " ")
        guard let f = all.first(where: { $0.device == ref }) else {
            return Device(ref: ref.description, name: name, needs: Rate.bits((d.periodicBytesPerSecond + d.bulkBytesPerSecond) * 8),
                          source: "descriptors", declared: Rate.bits(d.periodicBytesPerSecond * 8), profile: "–", observedPeak: "–",
                          observedLast: "–", advice: nil)
        }
        return Device(ref: ref.description, name: name, needs: Rate.bits(f.requiredBitsPerSecond), source: f.source.rawValue,
                      declared: Rate.bits(f.periodicBytesPerSecond * 8), profile: f.profileBulkBytesPerSecond.map { Rate.bits($0 * 8) } ?? "–",
                      observedPeak: f.observed.map { Rate.bits($0.peakBytesPerSecond * 8) } ?? "–",
                      observedLast: f.observed.map { Rate.bits($0.lastBytesPerSecond * 8) } ?? "–", advice: f.advice)
    }

    static func operation(_ op: OperationRecord, _ clock: Clock) -> Operation {
        let reasons: [String] = switch op.payload {
        case .attach(_, let decision): ["decided: \(decision.action.rawValue)" + (decision.rebalance == true ? " (on what the device was seen to use)" : "")]
            + decision.reasons
        case .detach(_, let reason): [reason]
        case .failover(let order): order.evidence + order.reasons
        }
        let tone = switch op.state {
        case .running: "warn"
        case .completed: "good"
        default: "bad"
        }
        let progress = op.progress.map { p in
            "\(p.status), \(p.transferredBytes >> 20) of \(p.totalBytes >> 20) MiB sent"
        }
        return Operation(id: op.id, kind: op.kind.rawValue, summary: op.summary, state: op.state.rawValue, tone: tone, running: op.state == .running,
                         created: clock.time(op.created), created8601: APIJSON.time(op.created), updated: clock.time(op.updated),
                         reasons: reasons, hasReasons: !reasons.isEmpty, error: op.error, progress: op.state == .running ? progress : nil,
                         steps: op.steps.map { s in
                             Step(at: clock.time(s.at), at8601: APIJSON.time(s.at), step: s.step, phase: s.phase.rawValue,
                                  mark: s.phase == .done ? "✓" : s.phase == .failed ? "✗" : "…", detail: s.detail)
                         })
    }

    static func mark(_ state: HealthState) -> String {
        switch state {
        case .up: "✓"
        case .partial: "~"
        case .down: "✗"
        case .unknown: "?"
        }
    }

    static func tone(_ state: HealthState) -> String {
        switch state {
        case .up: "good"
        case .partial: "warn"
        case .down: "bad"
        case .unknown: "none"
        }
    }

    static func tone(vmState: String) -> String {
        switch vmState {
        case "running": "good"
        case "migrating", "restarting", "paused", "suspended": "warn"
        default: "bad"
        }
    }

    /// Times as operators read them on the page: `14:05:09.250`, to the millisecond, in UTC as
    /// the journal's are (each `<time>` carries the full ISO 8601 time for tools).
    struct Clock {
        let calendar: Calendar

        init(timeZone: TimeZone) {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            self.calendar = calendar
        }

        func time(_ date: Date) -> String {
            let c = calendar.dateComponents([.hour, .minute, .second], from: date)
            let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
            return String(format: "%02d:%02d:%02d.%03d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0, (milliseconds + 1000) % 1000)
        }
    }
}
