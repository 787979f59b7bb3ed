import Foundation
import Testing
import TetherModel

/// The attach's messages read and written by hand (`FastJSON`) must mean on the wire exactly
/// what Foundation's coders make of them: every value written by hand reads back the same
/// through Foundation and the other way round, and bytes the hand reader takes are never read
/// differently by Foundation (mutated messages, thousands of them), only faster.
struct FastJSONTests {
    // MARK: values

    /// Strings with what JSON must escape, and what UTF-8 spells in two to four bytes.
    static func text(_ rng: inout SplitMix64) -> String {
        let pieces = ["a", "host-b", "1-3", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1f}", "\u{7f}", "é", "€", "😀", "\u{2028}", " ", "{", "}", ":", ","]
        return (0..<Int.random(in: 0...8, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    static func int(_ rng: inout SplitMix64) -> Int {
        [0, 1, -1, Int.max, Int.min, 1_000_000_007, Int.random(in: Int.min...Int.max, using: &rng)].randomElement(using: &rng)!
    }

    static func decision(_ rng: inout SplitMix64) -> AttachDecision {
        var decision = AttachDecision(action: [.local, .migrate, .forward, .reject].randomElement(using: &rng)!, container: text(&rng), vm: text(&rng),
                                      vmHost: text(&rng), device: text(&rng), targetHost: Bool.random(using: &rng) ? text(&rng) : nil,
                                      requiredBitsPerSecond: int(&rng), allocatedBitsPerSecond: int(&rng), migrateThresholdPercent: int(&rng),
                                      reasons: (0..<Int.random(in: 0...3, using: &rng)).map { _ in text(&rng) },
                                      forwardedAfterMove: Bool.random(using: &rng) ? [text(&rng), text(&rng)] : nil)
        decision.rebalance = [nil, true, false].randomElement(using: &rng)!
        return decision
    }

    static func request(_ rng: inout SplitMix64) -> AttachRequest {
        let device: DeviceSelector = Bool.random(using: &rng)
            ? .port(DeviceRef(host: "host-\(Int.random(in: 0...99, using: &rng))", id: "1-\(Int.random(in: 1...9, using: &rng))"))
            : .product(vendorId: "046d", productId: "0825", serial: Bool.random(using: &rng) ? "SER\(text(&rng).filter { $0 != ":" })" : nil)
        return AttachRequest(container: text(&rng), device: device, vm: Bool.random(using: &rng) ? text(&rng) : nil, dryRun: Bool.random(using: &rng))
    }

    static func foundation<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        try? APIJSON.decoder().decode(type, from: Data(bytes))
    }

    static func fast<T: FastJSONDecodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        bytes.withUnsafeBytes { raw in
            var reader = JSONReader(raw)
            guard let value = T.fastDecoded(from: &reader), reader.atEnd() else { return nil }
            return value
        }
    }

    // MARK: the tests

    @Test func everyStoredPropertyIsWrittenByHand() {
        var rng = SplitMix64(seed: 1)
        let labels = { (value: Any) in Mirror(reflecting: value).children.compactMap(\.label).sorted() }
        #expect(labels(Self.decision(&rng)) == AttachDecision.fastKeys)
        #expect(labels(Self.request(&rng)) == AttachRequest.fastKeys)
        #expect(labels(AttachResponse(decision: Self.decision(&rng), operation: nil)) == AttachResponse.fastKeys)
    }

    @Test func handAndFoundationReadEachOthersMessages() throws {
        var rng = SplitMix64(seed: 17)
        for _ in 0..<2_000 {
            let response = AttachResponse(decision: Self.decision(&rng), operation: nil)
            let byHand = try #require(response.fastEncoded())
            #expect(Self.foundation(AttachResponse.self, byHand) == response, "\(String(decoding: byHand, as: UTF8.self))")
            let byFoundation = Array(try APIJSON.encoder().encode(response))
            #expect(Self.fast(AttachResponse.self, byFoundation) == response, "\(String(decoding: byFoundation, as: UTF8.self))")
            // Keys sorted, as Foundation's encoder writes them: byte for byte but for escapes.
            #expect(try JSONSerialization.jsonObject(with: Data(byHand)) as? NSDictionary == JSONSerialization.jsonObject(with: Data(byFoundation)) as? NSDictionary)

            let request = Self.request(&rng)
            let requestByHand = try #require(request.fastEncoded())
            #expect(Self.foundation(AttachRequest.self, requestByHand) == request)
            #expect(Self.fast(AttachRequest.self, Array(try APIJSON.encoder().encode(request))) == request)
        }
    }

    /// Byte mutations of real messages: whatever the hand reader takes, Foundation takes and
    /// reads the same.
    @Test func theHandReaderNeverDisagreesWithFoundation() throws {
        var rng = SplitMix64(seed: 99)
        let significant = Array("{}[]\":,\\ntrufalse0123456789-.eE\u{0}\u{1f} ".utf8) + [0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80]
        var taken = 0
        for n in 0..<20_000 {
            var bytes: [UInt8]
            if n % 2 == 0 {
                bytes = try #require(AttachResponse(decision: Self.decision(&rng), operation: nil).fastEncoded())
            } else {
                bytes = try #require(Self.request(&rng).fastEncoded())
            }
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0...3, using: &rng) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(significant.randomElement(using: &rng)!, at: at)
                case 2: bytes[at] = significant.randomElement(using: &rng)!
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 8)], at: at)
                }
            }
            if n % 2 == 0 {
                guard let byHand = Self.fast(AttachResponse.self, bytes) else { continue }
                taken += 1
                #expect(Self.foundation(AttachResponse.self, bytes) == byHand, "\(String(decoding: bytes, as: UTF8.self))")
            } else {
                guard let byHand = Self.fast(AttachRequest.self, bytes) else { continue }
                taken += 1
                #expect(Self.foundation(AttachRequest.self, bytes) == byHand, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        // Mutations in a string's middle are still messages: the comparison had something to compare.
        #expect(taken > 1_000, "the hand reader took \(taken) mutated messages")
    }

    @Test(arguments: [
        #"{"container":"c","device":"host-b/1-3","dryRun":1}"#,          // a number for a flag
        #"{"container":"c","device":"host-b/1-3","extra":true}"#,        // a key it does not know
        #"{"container":"c","container":"d","device":"host-b/1-3"}"#,     // a key twice
        #"{"container":"c","device":"host-b/1-3"} x"#,                   // something after the value
        #"{"container":"\ud800","device":"host-b/1-3"}"#,               // a lone surrogate
        #"{"container":"c","device":"webcam"}"#,                         // a selector that does not parse
        #"{"container":"c\u0001","device":"host-b/1-3"}"#.replacingOccurrences(of: "\\u0001", with: "\u{1}"),   // a raw control character
        #"{"decision":{"action":"local"},"operation":null}"#,            // fields missing
        #"{"container":"c","device":"host-b/1-3","vm":nul}"#,            // no literal
    ])
    func whatItDoesNotTakeIsLeftToFoundation(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(Self.fast(AttachRequest.self, bytes) == nil)
        #expect(Self.fast(AttachResponse.self, bytes) == nil)
    }

    @Test func escapesNullsAndNumbersReadAsFoundationReadsThem() throws {
        let text = #" { "container" : "caf\u00e9 \ud83d\ude00 \/ \"q\"" , "device":"046d:0825:SER-1", "vm": null, "dryRun": null } "#
        let request = try #require(Self.fast(AttachRequest.self, Array(text.utf8)))
        #expect(request == Self.foundation(AttachRequest.self, Array(text.utf8)))
        #expect(request.container == "café 😀 / \"q\"" && request.vm == nil && !request.dryRun)

        let decision = #"{"decision":{"action":"forward","allocatedBitsPerSecond":-9223372036854775808,"container":"c","device":"d","migrateThresholdPercent":0,"reasons":[],"requiredBitsPerSecond":9223372036854775807,"targetHost":null,"vm":"v","vmHost":"h"}}"#
        let read = try #require(Self.fast(AttachResponse.self, Array(decision.utf8)))
        #expect(read == Self.foundation(AttachResponse.self, Array(decision.utf8)))
        #expect(read.decision.allocatedBitsPerSecond == .min && read.decision.requiredBitsPerSecond == .max)
        // One past Int's end, a fraction, a leading zero: not the hand reader's.
        for figure in ["9223372036854775808", "1.0", "1e3", "01"] {
            #expect(Self.fast(AttachResponse.self, Array(decision.replacingOccurrences(of: "\"migrateThresholdPercent\":0", with: "\"migrateThresholdPercent\":\(figure)").utf8)) == nil, "\(figure)")
        }
    }

    @Test func anAnswerWithAnOperationIsLeftToFoundation() throws {
        var rng = SplitMix64(seed: 5)
        let decision = Self.decision(&rng)
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let attachment = DeviceAttachment(container: "c1", vm: "vm-a", device: DeviceRef(host: "host-b", id: "1-3"), mode: .forward, vmHost: "host-a", since: at)
        let record = OperationRecord(id: "op-1", payload: .attach(attachment, decision: decision), created: at)
        let response = AttachResponse(decision: decision, operation: record)
        #expect(response.fastEncoded() == nil)
        let bytes = try APIJSON.encode(response)
        #expect(Self.fast(AttachResponse.self, Array(bytes)) == nil)
        #expect(try bytes.withUnsafeBytes { try APIJSON.decode(AttachResponse.self, from: $0) } == response)
    }
}
