import Failover
import Foundation
import TetherModel
import Testing

@Suite struct ManagementLossWatchTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    func at(_ seconds: TimeInterval, heard: TimeInterval?, management: HealthState = .down, migration: HealthState = .up)
        -> ManagementLossWatch.Observation {
        .init(now: t0 + seconds, controllerHeardAt: heard.map { t0 + $0 }, management: management, migration: migration)
    }

    @Test func actsOnceWhenTheControllerIsSilentAndOnlyMigrationAnswers() {
        var watch = ManagementLossWatch(silence: 2)
        #expect(watch.observe(at(0, heard: 0, management: .up)) == .none)
        #expect(watch.observe(at(1.9, heard: 0)) == .none, "not silent long enough")
        guard case .failOver(let since, let evidence) = watch.observe(at(2.1, heard: 0)) else {
            Issue.record("management lost was not acted on")
            return
        }
        #expect(since == t0)
        #expect(evidence.contains { $0.contains("migration") })
        #expect(watch.observe(at(3, heard: 0)) == .none, "once per loss")
        #expect(watch.observe(at(4, heard: 3.5)) == .recovered)
        #expect(watch.observe(at(4.5, heard: 4.4)) == .none)
        if case .failOver = watch.observe(at(9, heard: 4.4)) {} else { Issue.record("a second loss is acted on again") }
    }

    /// The management link without carrier: the controller cannot be reached, known at once;
    /// acted on past a bounce's half second, not after the whole silence. A link that is up (or
    /// not known) waits the silence out.
    @Test func aManagementLinkWithoutCarrierIsActedOnPastABounce() {
        var watch = ManagementLossWatch(silence: 2)
        #expect(watch.observe(at(0, heard: 0, management: .up)) == .none)
        var cut = at(0.4, heard: 0)
        cut.managementLink = false
        #expect(watch.observe(cut) == .none, "within a bounce")
        cut = at(0.6, heard: 0)
        cut.managementLink = true
        #expect(watch.observe(cut) == .none, "a link with carrier: the silence is only suspected")
        cut.managementLink = false
        if case .failOver = watch.observe(cut) {} else { Issue.record("no carrier past the bounce is a loss") }
    }

    /// Every link of the host back after an isolation: migration's peers answer a moment before
    /// management's and the controller do. No move; but management still down once migration
    /// has worked for a whole silence is a loss.
    @Test func migrationBackBeforeManagementAfterAnIsolationIsNoLoss() {
        var watch = ManagementLossWatch(silence: 2)
        #expect(watch.observe(at(0, heard: 0, management: .up)) == .none)
        for second in stride(from: 0.5, through: 5, by: 0.5) {
            #expect(watch.observe(at(second, heard: 0, migration: .down)) == .none, "isolated: fencing's case")
        }
        #expect(watch.observe(at(5.25, heard: 0, migration: .partial)) == .none, "migration back first")
        #expect(watch.observe(at(5.5, heard: 0, migration: .up)) == .none)
        #expect(watch.observe(at(6, heard: 5.9, management: .partial)) == .none, "then the rest: nothing was done")
        var stuck = ManagementLossWatch(silence: 2)
        #expect(stuck.observe(at(0, heard: 0, migration: .down)) == .none)
        #expect(stuck.observe(at(5, heard: 0, migration: .up)) == .none)
        #expect(stuck.observe(at(6.9, heard: 0)) == .none)
        if case .failOver = stuck.observe(at(7.1, heard: 0)) {} else { Issue.record("management still down 2 s after migration came back is a loss") }
    }

    @Test(arguments: [HealthState.up, .partial, .unknown])
    func peersOnManagementMeanTheControllerAloneIsGone(_ management: HealthState) {
        var watch = ManagementLossWatch()
        #expect(watch.observe(at(10, heard: 0, management: management)) == .none)
    }

    @Test(arguments: [HealthState.down, .unknown])
    func noPeerOnMigrationIsIsolationNotAMove(_ migration: HealthState) {
        var watch = ManagementLossWatch()
        #expect(watch.observe(at(10, heard: 0, migration: migration)) == .none)
    }

    @Test func neverHeardMeansNothingToGoOn() {
        var watch = ManagementLossWatch()
        #expect(watch.observe(at(100, heard: nil)) == .none)
    }
}

@Suite struct IsolationWatchTests {
    let t0 = Date(timeIntervalSince1970: 2_000_000)
    let allDown: [NetworkRole: HealthState] = [.management: .down, .migration: .down, .vm: .down, .storage: .down]

    func at(_ seconds: TimeInterval, heard: TimeInterval?, networks: [NetworkRole: HealthState]? = nil, pathUp: Bool = false)
        -> IsolationWatch.Observation {
        .init(now: t0 + seconds, controllerHeardAt: heard.map { t0 + $0 }, networks: networks ?? allDown, anyPathUp: pathUp,
              lastPathSuccess: t0 + 0.5)
    }

    @Test func anIsolatedHostFencesOnceWithinItsDeadlineAndLetsGoWhenHeard() {
        var watch = IsolationWatch(deadline: 6, silence: 2)
        #expect(watch.observe(at(1, heard: 0)) == .none, "the controller not silent long enough")
        guard case .fence(let evidence, let deadline) = watch.observe(at(2.5, heard: 0)) else {
            Issue.record("isolation was not fenced")
            return
        }
        #expect(deadline == t0 + 6.5, "six seconds after the last contact (a path wrote at 0.5 s)")
        #expect(evidence.count == 3)
        #expect(watch.observe(at(3, heard: 0)) == .none, "once")
        #expect(watch.observe(at(9, heard: 8.9, networks: [.management: .up, .migration: .down, .vm: .down, .storage: .down])) == .release)
        #expect(watch.observe(at(9.5, heard: 9.4)) == .none)
    }

    @Test func onePeerOrOnePathIsNotIsolation() {
        var watch = IsolationWatch()
        #expect(watch.observe(at(5, heard: 0, networks: [.management: .down, .migration: .partial, .vm: .down, .storage: .down])) == .none)
        #expect(watch.observe(at(5, heard: 0, pathUp: true)) == .none)
        #expect(watch.observe(at(5, heard: 4.5)) == .none, "the controller answers")
        #expect(watch.observe(at(5, heard: 0, networks: [:])) == .none, "a host that measures no network cannot judge")
        #expect(watch.observe(at(5, heard: nil)) == .none, "a host that never heard the controller lost no contact (its start)")
    }

    @Test func storageBackAloneDoesNotLetGoWithoutTheController() {
        var watch = IsolationWatch()
        guard case .fence = watch.observe(at(3, heard: 0)) else { Issue.record("not fenced"); return }
        #expect(watch.observe(at(4, heard: 0, pathUp: true)) == .none, "the fenced VMs wait for the cluster's word")
    }
}
