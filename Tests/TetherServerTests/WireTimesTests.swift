import Foundation
import Testing
import TetherModel

/// Times cross the API in ISO 8601, UTC, to the millisecond: a detection or recovery measured in
/// whole seconds would be off by up to one. Read back and written again, a time reads the same.
struct WireTimesTests {
    struct Stamped: Codable, Equatable { var at: Date }

    func encoded(_ date: Date) throws -> String {
        String(decoding: try APIJSON.encoder().encode(Stamped(at: date)), as: UTF8.self)
    }

    @Test(arguments: [1_800_000_000.0, 1_800_000_000.25, 1_800_000_000.1234567, 1_800_000_000.9996, 1_800_000_000.0004, 12.5])
    func aTimeKeepsItsMillisecondsAndReadsTheSameWrittenAgain(_ seconds: Double) throws {
        let text = try encoded(Date(timeIntervalSince1970: seconds))
        let back = try APIJSON.decoder().decode(Stamped.self, from: Data(text.utf8))
        #expect(abs(back.at.timeIntervalSince1970 - seconds) <= 0.0005, "\(text)")
        #expect(try encoded(back.at) == text, "stable")
        let again = try APIJSON.decoder().decode(Stamped.self, from: Data(try encoded(back.at).utf8))
        #expect(again == back, "and equal once read")
    }

    @Test func aWholeSecondHasNoFractionAndAFractionHasThreeDigits() throws {
        #expect(try encoded(Date(timeIntervalSince1970: 1_800_000_000)) == #"{"at":"2027-01-15T08:00:00Z"}"#)
        #expect(try encoded(Date(timeIntervalSince1970: 1_800_000_000.05)) == #"{"at":"2027-01-15T08:00:00.050Z"}"#)
        #expect(try encoded(Date(timeIntervalSince1970: 1_800_000_000.9996)) == #"{"at":"2027-01-15T08:00:01Z"}"#)
    }

    @Test func bothFormsAreReadAndAnythingElseIsAClearError() throws {
        let decoder = APIJSON.decoder()
        #expect(try decoder.decode(Stamped.self, from: Data(#"{"at":"2027-01-15T08:00:00Z"}"#.utf8)).at.timeIntervalSince1970 == 1_800_000_000)
        let fraction = try decoder.decode(Stamped.self, from: Data(#"{"at":"2027-01-15T08:00:00.5Z"}"#.utf8))
        #expect(fraction.at.timeIntervalSince1970 == 1_800_000_000.5)
        do {
            _ = try decoder.decode(Stamped.self, from: Data(#"{"at":"yesterday"}"#.utf8))
            Issue.record("'yesterday' decoded")
        } catch {
            #expect(APIJSON.describe(error).contains("'at': 'yesterday' is not an ISO 8601 time"), "\(APIJSON.describe(error))")
        }
    }
}
