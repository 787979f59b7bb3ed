import Glibc
import Hummingbird
import TetherModel

/// On the plain web listener bound to the loopback, only requests that name the loopback as
/// their host are served: a page elsewhere that rebinds its own name to 127.0.0.1 (DNS
/// rebinding) would otherwise read the cluster through the viewer's browser.
struct LoopbackHostCheck<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        guard Loopback.names(authority: host) else {
            throw TetherError(.permissionDenied, "this listener serves the loopback only; ask for http://127.0.0.1, http://[::1] or "
                              + "http://localhost, not '\(host)'")
        }
        return try await next(request, context)
    }
}

/// Whether an address names this machine's loopback.
public enum Loopback {
    /// `127.0.0.1:7480`, `localhost`, `[::1]:7480`, `::1`: a numeric address of 127/8 or ::1, or
    /// the name `localhost`. A name that merely starts like one (`127.0.0.1.example`) is another
    /// machine's, whatever its DNS says today.
    public static func names(authority: String) -> Bool {
        var name = Substring(authority.lowercased())
        if name.hasPrefix("[") {
            guard let end = name.firstIndex(of: "]") else { return false }
            let port = name[name.index(after: end)...]
            guard port.isEmpty || isPort(port) else { return false }
            name = name[name.index(after: name.startIndex)..<end]
            return isIPv6Loopback(String(name))
        }
        if name.filter({ $0 == ":" }).count > 1 { return isIPv6Loopback(String(name)) }
        if let colon = name.lastIndex(of: ":") {
            guard isPort(name[colon...]) else { return false }
            name = name[..<colon]
        }
        if name == "localhost" || name == "localhost." { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, String(name), &address) == 1 else { return false }
        return UInt32(bigEndian: address.s_addr) >> 24 == 127
    }

    /// `:7480`, as it follows a host in an authority.
    private static func isPort(_ text: Substring) -> Bool {
        let digits = text.dropFirst()
        return text.first == ":" && !digits.isEmpty && digits.count <= 5 && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
    }

    private static func isIPv6Loopback(_ text: String) -> Bool {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return false }
        return withUnsafeBytes(of: &address) { Array($0) } == Array(repeating: 0, count: 15) + [1]
    }
}
