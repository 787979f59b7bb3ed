import Controller
import Testing
import TetherModel

/// Which device a selector names, through the controller's device directory: by port, by
/// product (a free one first, then the VM's host's, then by name), with a serial; and the same
/// answer as walking every host's devices, for any selector.
struct DeviceResolverTests {
    static func host(_ name: String, _ devices: [RegisteredDevice]) -> AgentRegistration {
        AgentRegistration(host: name, agentAddress: HostPort(host: "10.0.0.1", port: 7401), cpus: 4, memoryMiB: 4096, networks: [:],
                          datastores: [], devices: devices, vms: [])
    }

    static let registrations = [
        host("host-a", [RegisteredDevice(id: "1-2", vendorId: "10C4", productId: "EA60", serial: "A", periodicBytesPerSecond: 0)]),
        host("host-b", [RegisteredDevice(id: "1-3", vendorId: "10c4", productId: "ea60", serial: "B", periodicBytesPerSecond: 0),
                        RegisteredDevice(id: "1-4", vendorId: "046d", productId: "0825", periodicBytesPerSecond: 0)]),
        host("host-c", []),
    ]

    func resolve(_ text: String, owner: [DeviceRef: String] = [:], vm: String? = "vm-x", on vmHost: String? = "host-b") throws -> String {
        try DeviceResolver.resolve(DeviceSelector(parsing: text), in: DeviceDirectory(Self.registrations), attachedTo: owner,
                                   for: vm, on: vmHost).description
    }

    @Test func aSelectorNamesThePortTheProductOrTheSerial() throws {
        #expect(try resolve("host-b/1-4") == "host-b/1-4")
        #expect(try resolve("10c4:ea60") == "host-b/1-3", "the VM's host first")
        #expect(try resolve("10c4:ea60", on: "host-c") == "host-a/1-2", "then by name")
        #expect(try resolve("10c4:ea60", owner: [DeviceRef(host: "host-b", id: "1-3"): "vm-y"]) == "host-a/1-2", "a free one first")
        #expect(try resolve("10c4:ea60", owner: [DeviceRef(host: "host-b", id: "1-3"): "vm-x"]) == "host-b/1-3", "or the VM's own")
        #expect(try resolve("10C4:EA60:A") == "host-a/1-2", "the serial, and hex in either case")
    }

    @Test(arguments: [
        ("host-z/1-1", "no agent has registered host 'host-z'"),
        ("host-c/1-1", "no registered device matches host-c/1-1"),
        ("10c4:ea60:C", "no registered device matches 10c4:ea60:C"),
        ("dead:beef", "no registered device matches dead:beef"),
    ])
    func whatMatchesNothingIsNotFoundAndSaysWhy(_ text: String, _ says: String) {
        #expect {
            try resolve(text)
        } throws: { error in
            (error as? TetherError)?.code == .notFound && (error as? TetherError)?.message.contains(says) == true
        }
    }

    /// The directory answers as the walk over every registration it replaced.
    @Test func theDirectoryAgreesWithAWalkOverEveryHost() throws {
        var hosts: [AgentRegistration] = []
        var generator = SystemRandomNumberGenerator()
        let products = [("10c4", "ea60"), ("046d", "0825"), ("0bda", "2838")]
        for h in 0..<40 {
            let devices = (0..<Int.random(in: 0...4, using: &generator)).map { d in
                let (vendor, product) = products.randomElement(using: &generator)!
                return RegisteredDevice(id: "1-\(d + 1)", vendorId: vendor, productId: product, serial: Bool.random() ? "S\(h % 3)" : nil,
                                        periodicBytesPerSecond: 0)
            }
            hosts.append(Self.host("h\(h)", devices))
        }
        let directory = DeviceDirectory(hosts)
        var selectors = products.flatMap { v, p in ["\(v):\(p)", "\(v):\(p):S0", "\(v):\(p):S1"] }
        selectors += (0..<60).map { "h\($0)/1-\(Int.random(in: 1...5))" }
        for text in selectors {
            let selector = try DeviceSelector(parsing: text)
            let owner = [DeviceRef(host: "h\(Int.random(in: 0..<40))", id: "1-1"): "other"]
            let walked = hosts.flatMap { r in r.devices.filter { selector.matches($0, on: r.host) }.map { DeviceRef(host: r.host, id: $0.id) } }
            let found = try? DeviceResolver.resolve(selector, in: directory, attachedTo: owner, for: "vm", on: "h7")
            #expect((found == nil) == walked.isEmpty, "\(text)")
            if let found { #expect(walked.contains(found), "\(text) → \(found)") }
            // Rank as the resolver does: the same one of several.
            let rank = { (ref: DeviceRef) in (owner[ref] == nil ? 0 : 1, ref.host == "h7" ? 0 : 1, ref.description) }
            #expect(found == walked.min { rank($0) < rank($1) }, "\(text)")
        }
    }
}
