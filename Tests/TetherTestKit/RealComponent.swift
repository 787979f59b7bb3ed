import Foundation
import Testing

/// A suite or test that needs a real component (root, QEMU, umockdev, runc, namespaces). Where
/// the component is missing it is skipped with `missing` as the reason, except under `CI=true`:
/// CI installs every real component, so there a missing one is a failure that names it, never a
/// skip to green.
public struct RealComponent: TestTrait, SuiteTrait {
    let available: @Sendable () -> Bool
    let missing: String

    public var isRecursive: Bool { true }

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    public func prepare(for test: Test) async throws {
        guard !available() else { return }
        if Self.underCI { throw Missing(description: "CI=true, and this needs what is missing: \(missing)") }
        try Test.cancel(Comment(rawValue: missing))
    }

    public static var underCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
}

extension Trait where Self == RealComponent {
    /// Runs only where `available` holds; under CI=true, fails instead of skipping.
    public static func requires(_ available: @autoclosure @escaping @Sendable () -> Bool, _ missing: String) -> Self {
        RealComponent(available: available, missing: missing)
    }
}
