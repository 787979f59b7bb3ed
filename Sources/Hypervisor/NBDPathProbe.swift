import Foundation
import TetherModel

/// Asks an NBD server on one path whether it answers, within a deadline, before QEMU is told to
/// open a node there. QEMU 7.2 connects a new NBD node synchronously in its main loop: a
/// `blockdev-add` towards a path that drops packets holds QMP, and every vCPU exit that needs the
/// main loop, for the whole SYN retry period (127 s with the kernel's default
/// `tcp_syn_retries=6`; seen). A probe that times out in a second or two keeps that out of QEMU.
///
/// The probe opens a TCP connection from the network namespace QEMU runs in and reads the
/// server's greeting (`NBDMAGIC`), then hangs up. It cannot promise that QEMU's own connection,
/// a moment later, succeeds; only that the path answered just now.
public enum NBDPathProbe {
    /// Succeeds when an NBD server greets on `path`; throws `.timeout` or `.io` saying what
    /// failed. `networkNamespace`: a namespace name under /run/netns (`ip netns`), or nil for
    /// this process's own.
    public static func check(_ path: NBDPath, networkNamespace: String? = nil, timeout: Duration = .seconds(2)) async throws(TetherError) {
        let outcome: Result<Void, TetherError> = await withCheckedContinuation { continuation in
            // A thread of its own: entering a network namespace changes the calling thread, which
            // must not be one of the concurrency pool's.
            let thread = Thread {
                continuation.resume(returning: Result { () throws(TetherError) in
                    try probe(path, networkNamespace: networkNamespace, timeout: timeout)
                })
            }
            thread.name = "nbd-probe"
            thread.start()
        }
        try outcome.get()
    }

    private static func probe(_ path: NBDPath, networkNamespace: String?, timeout: Duration) throws(TetherError) {
        if let networkNamespace { try enter(networkNamespace) }
        let deadline = ContinuousClock.now + timeout
        let fd = try connect(path, deadline: deadline, timeout: timeout)
        defer { close(fd) }
        var greeting = [UInt8](repeating: 0, count: 8)
        var received = 0
        while received < greeting.count {
            try wait(fd, for: Int16(POLLIN), until: deadline, path: path, timedOut: "did not greet within \(timeout)")
            let count = greeting.withUnsafeMutableBytes { read(fd, $0.baseAddress.map { $0 + received }, 8 - received) }
            guard count > 0 else {
                throw TetherError(.io, "the NBD server at \(path) hung up before greeting",
                                  cause: count < 0 ? String(cString: strerror(errno)) : nil)
            }
            received += count
        }
        guard greeting == Array("NBDMAGIC".utf8) else {
            throw TetherError(.io, "something answers at \(path), but it is not an NBD server (greeting \(greeting))")
        }
    }

    private static func connect(_ path: NBDPath, deadline: ContinuousClock.Instant, timeout: Duration) throws(TetherError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var found: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(path.host, String(path.port), &hints, &found)
        guard rc == 0, let address = found else {
            throw TetherError(.notFound, "cannot resolve the host of \(path)", cause: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(found) }
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(address.pointee.ai_family, type, 0)
        guard fd >= 0 else { throw TetherError(.io, "cannot open a socket to probe \(path)", cause: String(cString: strerror(errno))) }
        if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TetherError(.io, "no connection to \(path)", cause: reason)
        }
        do {
            try wait(fd, for: Int16(POLLOUT), until: deadline, path: path, timedOut: "did not accept a connection within \(timeout)")
        } catch {
            close(fd)
            throw error
        }
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
        guard failure == 0 else {
            close(fd)
            throw TetherError(.io, "no connection to \(path)", cause: String(cString: strerror(failure)))
        }
        return fd
    }

    private static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, path: NBDPath,
                             timedOut: String) throws(TetherError) {
        while true {
            let left = deadline - ContinuousClock.now
            let milliseconds = max(0, Int32(left.timeInterval * 1000))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno == EINTR { continue }
            guard ready == 0 else {
                throw TetherError(.io, "cannot wait on the probe of \(path)", cause: String(cString: strerror(errno)))
            }
            throw TetherError(.timeout, "the NBD server at \(path) \(timedOut)")
        }
    }

    private typealias SetNS = @convention(c) (Int32, Int32) -> Int32

    /// Moves the calling thread into the network namespace `name` (`ip netns`'s /run/netns/NAME).
    private static func enter(_ name: String) throws(TetherError) {
        let file = "/run/netns/\(name)"
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TetherError(.notFound, "no network namespace \(name) (\(file))", cause: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        // setns is not in the Glibc module Swift imports (a _GNU_SOURCE declaration): looked up.
        guard let symbol = dlsym(nil, "setns") else { throw TetherError(.unsupported, "this C library has no setns") }
        let cloneNewNet: Int32 = 0x4000_0000
        guard unsafeBitCast(symbol, to: SetNS.self)(fd, cloneNewNet) == 0 else {
            throw TetherError(.permissionDenied, "cannot enter the network namespace \(name)", cause: String(cString: strerror(errno)))
        }
    }
}

extension NetworkDisk {
    /// The paths with the first that answers a probe moved to the front, the others in their
    /// order: QEMU opens the disk on the first. Throws, with every path's reason, when none answers.
    func answeringFirst(networkNamespace: String?, timeout: Duration = .seconds(2)) async throws(TetherError) -> [NBDPath] {
        var reasons: [String] = []
        for (index, path) in paths.enumerated() {
            do {
                try await NBDPathProbe.check(path, networkNamespace: networkNamespace, timeout: timeout)
                var ordered = paths
                ordered.remove(at: index)
                return [path] + ordered
            } catch {
                reasons.append(error.description)
            }
        }
        throw TetherError(.io, "no path to the disk '\(export)' answers", cause: reasons.joined(separator: "; "))
    }
}
