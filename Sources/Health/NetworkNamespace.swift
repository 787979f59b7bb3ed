import Foundation
import TetherModel

/// Entering a network namespace for one call. `setns` changes the namespace of the calling thread
/// only, so the call runs on a thread of its own that ends right after: the caller's threads (and
/// Swift's shared pool) never change namespace. What it makes there (a socket) stays in that
/// namespace for its whole life, whatever thread uses it later; that is how one process watches
/// links and paths in several namespaces (the lab, the tests). The agent itself runs inside its
/// host's namespace and passes no namespace at all.
enum NetworkNamespace {
    static func inside(_ name: String, _ body: @escaping @Sendable () -> Int32) throws(TetherError) -> Int32 {
        let path = name.hasPrefix("/") ? name : "/var/run/netns/\(name)"
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let namespace = open(path, O_RDONLY | O_CLOEXEC)
            guard namespace >= 0 else { return outcome.set(.failure(Socket.error(.notFound, "no network namespace at \(path)"))) }
            defer { close(namespace) }
            guard let setns = Self.setns, setns(namespace, Self.cloneNewNet) == 0 else {
                return outcome.set(.failure(Socket.error(.permissionDenied, "cannot enter network namespace \(name) (needs root)")))
            }
            outcome.set(.success(body()))
        }
        thread.start()
        done.wait()
        return try outcome.get()
    }

    /// glibc's `setns`, which Swift's Glibc module does not import (it sits behind _GNU_SOURCE).
    private static let setns: (@convention(c) (Int32, Int32) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()

    /// CLONE_NEWNET from <sched.h>, likewise not imported.
    private static let cloneNewNet: Int32 = 0x4000_0000

    private final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<Int32, TetherError> = .failure(TetherError(.internalError, "namespace thread gave no result"))
        func set(_ value: Result<Int32, TetherError>) { lock.withLock { result = value } }
        func get() throws(TetherError) -> Int32 { try lock.withLock { result }.get() }
    }
}
