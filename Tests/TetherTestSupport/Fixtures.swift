import Foundation

/// Where the repository's recorded devices are, and the tools tests run.
public enum Fixtures {
    /// Tests/Fixtures/usb, found from this file so that tests run from any directory.
    public static let usbDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/usb")

    public static func usb(_ name: String) -> URL {
        usbDirectory.appendingPathComponent(name.hasSuffix(".umockdev") ? name : name + ".umockdev")
    }

    public static let recordings = ["logitech-c270", "ch340", "ftdi-hs", "usbkbd", "canon-powershot-sx200"]

    /// A fresh directory under the system's temporary directory.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tether-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Finds programs: the package's own built executables and system tools.
public enum Tools {
    /// The directory holding the package's built executables (beside the test bundle).
    public static let productsDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["TETHER_BUILD_DIR"] { return URL(fileURLWithPath: override) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("tether").path) { return url }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug")
    }()

    public static func product(_ name: String) -> String { productsDirectory.appendingPathComponent(name).path }

    /// The full path of a program on PATH, or nil when it is not installed.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public static var hasUMockdev: Bool { which("umockdev-run") != nil && which("umockdev-wrapper") != nil }
    public static var hasLsusb: Bool { which("lsusb") != nil }
}

/// Headless Chromium driven by `scripts/browser.py` (the DevTools protocol on a pipe).
public enum Browser {
    public static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/browser.py").path

    public static var available: Bool { Tools.which("chromium") != nil && Tools.which("python3") != nil }
    public static let missing = "chromium (Debian's package) and python3"
}
