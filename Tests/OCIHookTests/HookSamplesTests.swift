import Foundation
import Testing
import TetherTestSupport

/// samples/oci-hooks.d and samples/runc-config-fragment.json: valid JSON in their schemas, firing
/// on the annotation, and calling the hook with arguments it takes.
struct HookSamplesTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples")

    static func json(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: samples.appendingPathComponent(name))) as? [String: Any])
    }

    /// The hook, with a sample's arguments (socket pointed nowhere), on a state without the
    /// annotation: it must accept them and do nothing.
    static func hookAccepts(_ args: [String]) async throws -> ProcessResult {
        var args = Array(args.dropFirst())
        if let i = args.firstIndex(of: "--socket") { args[i + 1] = "/nonexistent/tetherd.sock" }
        return try await ProcessRunner.run(Tools.product("tether-oci-hook"), args,
                                     input: #"{"ociVersion": "1.0.2", "id": "c", "status": "creating", "pid": 1, "bundle": "/b"}"#)
    }

    @Test(arguments: ["oci-hooks.d/tether.json", "oci-hooks.d/tether-poststop.json"])
    func hooksDFilesFireOnTheAnnotationAndCallTheHookRightly(_ name: String) async throws {
        let file = try Self.json(name)
        #expect(file["version"] as? String == "1.0.0")
        let hook = try #require(file["hook"] as? [String: Any])
        #expect((hook["path"] as? String)?.hasSuffix("/tether-oci-hook") == true)
        let when = try #require((file["when"] as? [String: Any])?["annotations"] as? [String: String])
        let (keyPattern, valuePattern) = try #require(when.first)
        #expect(try NSRegularExpression(pattern: keyPattern).firstMatch(in: "tether.io/devices", range: NSRange(location: 0, length: 17)) != nil)
        #expect(try NSRegularExpression(pattern: keyPattern).firstMatch(in: "tether.io/devicesX", range: NSRange(location: 0, length: 18)) == nil)
        #expect(try NSRegularExpression(pattern: valuePattern).firstMatch(in: "1a86:7523", range: NSRange(location: 0, length: 9)) != nil)
        #expect((file["stages"] as? [String])?.count == 1)
        let result = try await Self.hookAccepts(try #require(hook["args"] as? [String]))
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func theRuncFragmentCallsTheHookRightly() async throws {
        let file = try Self.json("runc-config-fragment.json")
        let hooks = try #require(file["hooks"] as? [String: [[String: Any]]])
        #expect(Set(hooks.keys) == ["createRuntime", "poststop"])
        for (_, entries) in hooks {
            for entry in entries {
                let result = try await Self.hookAccepts(try #require(entry["args"] as? [String]))
                #expect(result.status == 0, "\(result.stderr)")
            }
        }
        let devices = try #require(((file["linux"] as? [String: Any])?["resources"] as? [String: Any])?["devices"] as? [[String: Any]])
        #expect(devices.first?["major"] as? Int == 189)
    }
}
