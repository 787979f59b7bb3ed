import Foundation
import Testing
import TetherModel

/// Run and migration states cross the API as QEMU's own words and come back as the same typed
/// values; a word this version does not know is kept, not refused.
struct WireStatesTests {
    @Test(arguments: ["running", "paused", "prelaunch", "inmigrate", "postmigrate", "finish-migrate", "guest-panicked",
                      "shutdown", "internal-error", "unreachable", "colo"])
    func aRunStateIsQEMUsWordOnTheWire(_ word: String) throws {
        let state = try APIJSON.decoder().decode(VMRunState.self, from: Data("\"\(word)\"".utf8))
        #expect(state.description == word)
        #expect(String(decoding: try APIJSON.encoder().encode(state), as: UTF8.self) == "\"\(word)\"")
        if word == "colo" { #expect(state == .other("colo")) }
    }

    @Test func onlyARunningOrPausedCopyOccupiesItsHost() {
        #expect(VMRunState.running.occupiesHost && VMRunState.paused.occupiesHost && VMRunState.guestPanicked.occupiesHost)
        #expect(!VMRunState.postmigrate.occupiesHost && !VMRunState.inmigrate.occupiesHost && !VMRunState.shutdown.occupiesHost)
    }

    @Test func aMigrationHasFinishedOnlyWhenQEMUSaysItEnded() {
        let finished = ["completed", "failed", "cancelled", "error"].map { MigrationStatus($0) }
        let underWay = ["none", "setup", "active", "pre-switchover", "device", "cancelling", "postcopy-active"].map { MigrationStatus($0) }
        #expect(finished.map(\.isFinished) == [true, true, true, true])
        #expect(underWay.filter(\.isFinished).isEmpty)
        let failures: [MigrationStatus] = [.failed, .cancelled, .error]
        #expect(finished.filter(\.isFailure) == failures)
    }

    @Test func aRegistrationCarriesItsTypedStates() throws {
        let vm = RegisteredVM(name: "vm-1", cpus: 1, memoryMiB: 128, networkMbps: 100, datastore: "ds1", status: .postmigrate)
        let json = String(decoding: try APIJSON.encoder().encode(vm), as: UTF8.self)
        #expect(json.contains("\"status\":\"postmigrate\""), "\(json)")
        #expect(try APIJSON.decoder().decode(RegisteredVM.self, from: Data(json.utf8)) == vm)
    }
}
