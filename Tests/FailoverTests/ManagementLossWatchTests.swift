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
