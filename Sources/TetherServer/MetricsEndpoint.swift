import Hummingbird
import Metrics
import Prometheus

/// Prometheus metrics: one registry per process, bootstrapped once, served as text on a plain
/// HTTP listener of its own (GET /metrics), apart from the authenticated APIs.
enum MetricsEndpoint {
    static let registry = PrometheusCollectorRegistry()

    /// Idempotent: MetricsSystem may be bootstrapped only once per process, and a static's
    /// initializer runs exactly once.
    static func bootstrap() { _ = bootstrapped }

    private static let bootstrapped: Void = MetricsSystem.bootstrap(DescribedMetricsFactory(registry: registry))

    static func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return router
    }
}
