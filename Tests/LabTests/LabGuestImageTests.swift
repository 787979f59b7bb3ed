import Foundation
import Lab
import TetherModel
import TetherSystem
import TetherTestKit
import TetherTestSupport
import Testing

/// The readers on images written here, sector by sector: every verdict, and bad files refused.
@Suite struct LabGuestImageTests {
    /// An image with these counters written where the guest writes them (or at `sector`).
    static func image(_ name: String, counters: [UInt64], placed: [Int: UInt64] = [:]) throws -> String {
        let path = "/tmp/lab-guest-test-\(name)-\(getpid()).raw"
        try LabGuest.makeImage(at: path, sizeMiB: 4)
        var sectors = placed
        for counter in counters { sectors[LabGuestImage.sector(of: counter)] = counter }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for (sector, counter) in sectors {
            var bytes = withUnsafeBytes(of: counter.littleEndian) { Array($0) } + Array("TETHERSQ".utf8)
            bytes += [UInt8](repeating: 0, count: 512 - bytes.count)
            try handle.seek(toOffset: UInt64(sector * 512))
            try handle.write(contentsOf: bytes)
        }
        return path
    }

    static func writeCrash(_ path: String, counter: UInt64, indices: [Int], says: [Int: UInt32] = [:],
                           counters: [Int: UInt64] = [:]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for index in indices {
            var bytes = Array("TETHERCR".utf8) + withUnsafeBytes(of: (counters[index] ?? counter).littleEndian) { Array($0) }
            bytes += withUnsafeBytes(of: (says[index] ?? UInt32(index)).littleEndian) { Array($0) }
            bytes += [UInt8](repeating: 0, count: 512 - bytes.count)
            try handle.seek(toOffset: UInt64((4096 + index) * 512))
            try handle.write(contentsOf: bytes)
        }
    }

    @Test func aNewImageIsBootableAndEmpty() throws {
        let path = try Self.image("new", counters: [])
        defer { unlink(path) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.count == 4 * 1024 * 1024)
        #expect(Array(bytes.prefix(512)) == LabGuest.bootImage)
        #expect(bytes[510] == 0x55 && bytes[511] == 0xAA)
        #expect(try LabGuestImage.sequence(of: path).verdict == .empty)
        let record = try LabGuestImage.crashRecord(of: path)
        #expect(record.isEmpty && !record.isFinished && !record.isComplete && record.counter == nil)
    }

    @Test(arguments: [1, 5, 2047, 2048, 2049, 5000, 1_000_000])
    func theLastWindowIsContinuous(maximum: UInt64) throws {
        let path = try Self.image("window-\(maximum)", counters: Array((maximum >= 2048 ? maximum - 2047 : 1)...maximum))
        defer { unlink(path) }
        let sequence = try LabGuestImage.sequence(of: path)
        #expect(sequence.verdict == .continuous)
        #expect(sequence.maximum == maximum)
    }

    /// Following a running guest: from the last counter seen, as far as the next ones are written,
    /// across the sequence's wrap, at most a window on, and not past a gap.
    @Test func theLatestCounterFollowsTheSequenceFromTheLastSeen() throws {
        let path = try Self.image("latest", counters: Array(2000...2100) + [2103])
        defer { unlink(path) }
        #expect(try LabGuestImage.latestCounter(in: path, after: 2000) == 2064, "a window of 64")
        #expect(try LabGuestImage.latestCounter(in: path, after: 2040) == 2100, "across sector 2048's wrap to sector 1, to the gap")
        #expect(try LabGuestImage.latestCounter(in: path, after: 2100) == 2100, "2101 is not written yet")
        #expect(try LabGuestImage.latestCounter(in: path, after: 2010, window: 5) == 2015)
    }

    @Test func aLostWriteIsMissing() throws {
        let path = try Self.image("gap", counters: Array(1...100).filter { $0 != 40 && $0 != 41 })
        defer { unlink(path) }
        #expect(try LabGuestImage.sequence(of: path).verdict == .broken([.missing([40...41])]))
    }

    @Test func aRestartShowsTheCounterGoneBack() throws {
        // 3000 writes, then the guest restarted at 1 and wrote 1 ... 10 over 2049 ... 2058.
        let path = try Self.image("restart", counters: Array(953...3000) + Array(1...10))
        defer { unlink(path) }
        let sequence = try LabGuestImage.sequence(of: path)
        #expect(sequence.maximum == 3000)
        #expect(sequence.verdict == .broken([.wentBack(Array(1...10)), .missing([2049...2058])]))
        #expect(!sequence.isContinuous)
    }

    @Test func aCounterInTheWrongSectorIsMisplaced() throws {
        let path = try Self.image("misplaced", counters: Array(1...9), placed: [1000: 5])
        defer { unlink(path) }
        let verdict = try LabGuestImage.sequence(of: path).verdict
        #expect(verdict == .broken([.duplicated([5]), .misplaced([.init(sector: 1000, counter: 5)])]))
    }

    @Test func aFinishedCrashRecord() throws {
        let path = try Self.image("crash", counters: Array(1...77))
        defer { unlink(path) }
        try Self.writeCrash(path, counter: 77, indices: Array(1...63))
        let partial = try LabGuestImage.crashRecord(of: path)
        #expect(partial.counter == 77 && !partial.isFinished && !partial.isComplete && partial.presentIndices.count == 63)
        try Self.writeCrash(path, counter: 77, indices: [0])
        let record = try LabGuestImage.crashRecord(of: path)
        #expect(record.isFinished && record.isComplete && record.counter == 77 && record.faults.isEmpty)
    }

    @Test func crashSectorsThatDisagreeAreFaults() throws {
        let path = try Self.image("crash-bad", counters: [])
        defer { unlink(path) }
        try Self.writeCrash(path, counter: 9, indices: Array(0...63), says: [5: 6], counters: [7: 8])
        let record = try LabGuestImage.crashRecord(of: path)
        #expect(record.counter == 9 && record.isFinished && !record.isComplete)
        #expect(record.faults == [.wrongIndex(index: 5, says: 6), .counterDiffers(index: 7, counter: 8)])
    }

    @Test func aShortFileIsRefused() throws {
        let path = "/tmp/lab-guest-test-short-\(getpid()).raw"
        defer { unlink(path) }
        try Data(LabGuest.bootImage + [UInt8](repeating: 0, count: 512 * 100)).write(to: URL(fileURLWithPath: path))
        for read in [{ _ = try LabGuestImage.sequence(of: path) }, { _ = try LabGuestImage.crashRecord(of: path) }] {
            let error = try #require(throws: TetherError.self, performing: read)
            #expect(error.code == .invalidArgument && error.message.contains("too short"), "\(error)")
        }
    }

    @Test func garbageIsRefused() throws {
        let path = "/tmp/lab-guest-test-garbage-\(getpid()).raw"
        defer { unlink(path) }
        var generator = SplitMix64(seed: 7)
        let bytes = (0..<(512 * 4200 / 8)).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for read in [{ _ = try LabGuestImage.sequence(of: path) }, { _ = try LabGuestImage.crashRecord(of: path) }] {
            let error = try #require(throws: TetherError.self, performing: read)
            #expect(error.code == .invalidArgument && error.message.contains("not a lab guest image"), "\(error)")
        }
    }

    @Test func aMissingFileIsNotFound() {
        let error = #expect(throws: TetherError.self) { try LabGuestImage.sequence(of: "/tmp/lab-guest-test-none/x.raw") }
        #expect(error?.code == .notFound)
    }

    @Test func tooSmallAnImageIsRefused() {
        let error = #expect(throws: TetherError.self) { try LabGuest.makeImage(at: "/tmp/lab-guest-test-small.raw", sizeMiB: 2) }
        #expect(error?.code == .invalidArgument)
    }

    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Lab/LabGuest.asm").path

    /// The committed bytes are what the committed source assembles to.
    @Test(.requires(Tools.which("nasm") != nil, "nasm (Debian's nasm) to reassemble LabGuest.asm"))
    func theBootSectorIsTheAssembledSource() throws {
        let output = "/tmp/lab-guest-test-\(getpid()).bin"
        defer { unlink(output) }
        let nasm = try Executable.find("nasm", package: "nasm")
        let (status, log) = try ChildProcess.run(nasm, ["-f", "bin", "-o", output, Self.source])
        #expect(status == 0, "\(log)")
        let assembled = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(assembled == LabGuest.bootImage, "LabGuest.asm changed: regenerate LabGuest+BootSector.swift from nasm's output")
    }
}
