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
    /// `127.0.0.1:7480`, `localhost`, `[::1]:7480`, `::1`.
    public static func names(authority: String) -> Bool {
        var name = Substring(authority.lowercased())
        if name.hasPrefix("["), let end = name.firstIndex(of: "]") {
            name = name[name.index(after: name.startIndex)..<end]
        } else if name.filter({ $0 == ":" }).count == 1, let colon = name.lastIndex(of: ":") {
            name = name[..<colon]
        }
        return name == "localhost" || name == "::1" || name.hasPrefix("127.")
    }
}
