import Hummingbird
import Logging
import TopiaryCoordinator

/// Serves the daemon's Prometheus metrics at `GET /metrics` (text format 0.0.4).
enum MetricsServer {
    static func application(_ metrics: DaemonMetrics, bind: HTTPBind, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.text())))
        }
        return Application(router: router, configuration: .init(address: .hostname(bind.host, port: bind.port), serverName: "topiary"),
                           logger: logger)
    }
}
