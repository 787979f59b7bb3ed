import Channel
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// Hummingbird's HTTP/1.1 servers (plain and TLS), with each connection's requests handled on
/// that connection's own event loop: the connection's task prefers it as its executor. Without
/// that preference each request crosses threads four times (the loop hands the request to a
/// task on the concurrency pool, the pool wakes to run it, the answer goes back to the loop),
/// and on a small machine those wake-ups were most of the controller's CPU per request. The
/// controller's and agents' actors still run their own work; a handler that awaits one hops to
/// it and back, as before.
public enum LoopAffineServer {
    /// Plain HTTP/1.1 (the unix socket, the loopback web listener, metrics).
    public static func http1() -> HTTPServerBuilder {
        HTTPServerBuilder { responder in LoopAffineChannel(base: HTTP1Channel(responder: responder)) }
    }

    /// HTTP/1.1 over TLS.
    public static func tls(_ configuration: TLSConfiguration) -> HTTPServerBuilder {
        // Built once, as the server is (a bad configuration is said at start).
        HTTPServerBuilder { responder in
            LoopAffineChannel(base: try TLSChannel(HTTP1Channel(responder: responder), tlsConfiguration: configuration))
        }
    }
}

/// A server child channel whose handling runs on the channel's event loop.
struct LoopAffineChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}
