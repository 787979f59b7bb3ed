// swift-tools-version: 6.1
import PackageDescription

// Warnings are errors in CI (`.ci/run` passes -warnings-as-errors); locally they stay warnings
// so that a half-written change still builds.
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "Tether",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tether", targets: ["tether"]),
        .executable(name: "tetherd", targets: ["tetherd"]),
        .executable(name: "tether-oci-hook", targets: ["tether-oci-hook"]),
        .executable(name: "tether-oci-attach", targets: ["tether-oci-attach"]),
        .executable(name: "usbredir-replay", targets: ["usbredir-replay"]),
        .library(name: "USBProbe", targets: ["USBProbe"]),
        .library(name: "TetherModel", targets: ["TetherModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // C leaf: the only target that sees libusb's headers. Only USBProbe imports it.
        .systemLibrary(
            name: "CLibUSB",
            pkgConfig: "libusb-1.0",
            providers: [.apt(["libusb-1.0-0-dev"])]
        ),
        .target(name: "TetherModel", dependencies: ["Yams"], exclude: ["README.md"], swiftSettings: strict),
        .target(name: "Placement", dependencies: ["TetherModel"], exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "Channel",
            dependencies: [
                "TetherModel", "TetherSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "Hypervisor",
            dependencies: [
                "TetherModel", "TetherSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(name: "USBProbe", dependencies: ["CLibUSB", "TetherModel"], exclude: ["README.md"], swiftSettings: strict),
        .target(
            name: "ClusterStore",
            dependencies: ["TetherModel", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The store on etcd (its v3 JSON gateway, through AsyncHTTPClient) and the controllers'
        // leader election by lease.
        .target(
            name: "ClusterStoreEtcd",
            dependencies: [
                "TetherModel", "ClusterStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "TetherClient",
            dependencies: [
                "TetherModel", "Channel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TetherSystem",
            dependencies: ["TetherModel", .product(name: "Subprocess", package: "swift-subprocess")],
            exclude: ["README.md"], swiftSettings: strict),
        // The controller decides and journals; every effect is an agent call, so it links
        // neither USBProbe nor Hypervisor.
        .target(
            name: "Controller",
            dependencies: [
                "TetherModel", "Placement", "ClusterStore", "Failover",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "Agent",
            dependencies: [
                "TetherModel", "TetherSystem", "USBProbe", "Hypervisor", "Channel", "TetherClient", "Health", "Failover", "Placement", "ClusterStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The web view: the cluster as server-rendered HTML (mustache templates compiled in).
        .target(
            name: "WebView",
            dependencies: ["TetherModel", "Placement", .product(name: "Mustache", package: "swift-mustache")],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "TetherHTTP",
            dependencies: [
                "TetherModel", "TetherSystem", "Controller", "Agent", "Channel", "WebView",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .target(
            name: "TetherServer",
            dependencies: [
                "TetherModel", "TetherSystem", "Controller", "Agent", "TetherHTTP", "ClusterStore", "ClusterStoreEtcd", "Hypervisor", "Channel",
                "USBProbe", "TetherClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // Pure state machines of high availability: the failure detector (messages and ticks in,
        // verdicts out); no I/O, no clock.
        .target(name: "Failover", dependencies: ["TetherModel"], swiftSettings: strict),
        // The health machinery's IO: NBD paths and datastore heartbeats, kernel link state
        // (netlink), and the failure detector's UDP transport; the agent wires it in.
        .target(
            name: "Health",
            dependencies: ["TetherModel", "Failover"],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // A real cluster on one machine (namespaces, links): tether demo, the lab and the tests.
        .target(
            name: "Lab", dependencies: ["TetherModel", "TetherSystem", "Hypervisor"], exclude: ["README.md", "LabGuest.asm"],
            swiftSettings: strict
        ),
        .target(name: "OCIHook", dependencies: ["TetherModel", "TetherSystem", "TetherClient"], swiftSettings: strict),
        .target(name: "USBRedirReplay", dependencies: ["USBProbe"], swiftSettings: strict),
        .executableTarget(name: "usbredir-replay", dependencies: ["USBRedirReplay"], swiftSettings: strict),
        // The hook's two halves: a C-library-only front the runtime calls for every container
        // (it must start in a millisecond), and the full hook it hands over to when asked.
        .executableTarget(name: "tether-oci-hook", swiftSettings: strict),
        .executableTarget(name: "tether-oci-attach", dependencies: ["OCIHook", "TetherModel"], swiftSettings: strict),
        .target(
            name: "TetherCommands",
            dependencies: [
                "USBProbe", "TetherModel", "TetherSystem", "Placement", "Hypervisor", "Channel", "TetherClient", "Lab",
                "ClusterStore", "ClusterStoreEtcd", "OCIHook",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "tether", dependencies: ["TetherCommands"], swiftSettings: strict),
        .executableTarget(
            name: "tetherd",
            dependencies: ["TetherServer"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tether-benchmark",
            dependencies: [
                "USBProbe", "TetherModel", "Placement", "Channel", "TetherTestSupport", "TetherServer", "TetherClient", "ClusterStore",
                "USBRedirReplay", "Controller", "TetherHTTP", "TetherSystem", "Failover", "Lab", "Hypervisor", "Agent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/TetherBenchmarks",
            swiftSettings: strict
        ),

        // Test-only: umockdev's testbed library, driven by a tiny C program so that tests can
        // plug and unplug recorded devices while a probe watches (libusb hotplug).
        .systemLibrary(
            name: "CUMockdev",
            pkgConfig: "umockdev-1.0",
            providers: [.apt(["libumockdev-dev"])]
        ),
        .executableTarget(name: "usb-testbed", dependencies: ["CUMockdev"], path: "Tests/USBTestbed"),

        .target(
            name: "TetherTestSupport",
            dependencies: [
                "USBProbe", "TetherModel", "TetherSystem", "Placement", "Hypervisor", "USBRedirReplay", "ClusterStore", "ClusterStoreEtcd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            path: "Tests/TetherTestSupport",
            swiftSettings: strict
        ),
        // Test-only, on Swift Testing: `.requires(available, "what is missing")` (a skip that CI=true turns
        // into a failure) and the store conformance suite every ClusterStore must pass.
        .target(
            name: "TetherTestKit", dependencies: ["ClusterStore", "TetherModel"], path: "Tests/TetherTestKit", swiftSettings: strict
        ),
        .testTarget(
            name: "USBProbeTests",
            dependencies: ["USBProbe", "TetherTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "FailoverTests", dependencies: ["Failover", "TetherModel"], swiftSettings: strict),
        .testTarget(
            name: "HealthTests",
            dependencies: ["Health", "Failover", "TetherModel", "TetherSystem", "TetherTestKit"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlacementTests",
            dependencies: [
                "Placement", "TetherModel", "TetherTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HypervisorTests",
            dependencies: [
                "TetherTestKit",
                // Channel: migration TLS is tested with the certificates `tether certs` makes.
                "Hypervisor", "TetherModel", "TetherTestSupport", "USBRedirReplay", "Channel",
                // Lab: network disks are tested against its storage server, in namespaces.
                "Lab",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChannelTests",
            dependencies: [
                "TetherTestKit",
                "Channel", "Hypervisor", "TetherModel", "TetherTestSupport", "USBRedirReplay",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ClusterStoreTests",
            dependencies: [
                "tether",
                "ClusterStore", "ClusterStoreEtcd", "TetherModel", "TetherTestSupport", "TetherTestKit", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TetherServerTests",
            dependencies: [
                "TetherTestKit",
                "TetherServer", "Controller", "Agent", "TetherHTTP", "TetherSystem", "Lab", "Channel", "WebView",
                "TetherClient", "ClusterStore", "Placement", "Failover", "TetherModel", "TetherTestSupport", "Hypervisor",
                "usbredir-replay", "tether-oci-hook", "tether-oci-attach", "tetherd", "TetherCommands",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LabTests",
            dependencies: ["Lab", "TetherTestKit", "TetherTestSupport", "Hypervisor", "TetherModel", "TetherSystem", "TetherClient"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OCIHookTests",
            dependencies: ["OCIHook", "TetherModel", "TetherTestSupport", "tether-oci-hook", "tether-oci-attach"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TetherCommandsTests",
            dependencies: ["TetherTestKit", "TetherCommands", "TetherSystem", "USBProbe", "Hypervisor", "TetherTestSupport", "tetherd", "tether-oci-hook", "tether-oci-attach", "usbredir-replay"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
