import ArgumentParser
import Foundation
import Hummingbird
import Logging
import TopiaryDashboard
import TopiaryStore

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve a web dashboard of a database: searches with live progress, Pareto fronts, trials, candidates.",
        discussion: """
            Read-only on the database: safe while a daemon writes it. Listens on loopback by default. To listen \
            beyond it, give --token (or $TOPIARY_DASHBOARD_TOKEN): every request must then carry it, as \
            ?token=… once (a cookie keeps it) or as 'Authorization: Bearer …'. Without TLS the token crosses \
            the network in clear: put the dashboard behind a TLS proxy or an SSH tunnel (docs/SECURITY.md).
            """)

    @OptionGroup var store: StoreOptions
    @OptionGroup var location: ArtifactLocation
    @Option(help: "Address to listen on, HOST:PORT.") var bind = "127.0.0.1:8080"
    @Option(help: "A secret every request must carry (needed to listen beyond loopback).") var token: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "notice"

    var effectiveToken: String? { token ?? ProcessInfo.processInfo.environment["TOPIARY_DASHBOARD_TOKEN"] }

    func validate() throws {
        let b = try HTTPBind(bind, option: "--bind")
        if !b.isLoopback && effectiveToken == nil {
            throw ValidationError("--bind \(bind) would show the database to anyone who reaches it: give --token (or TOPIARY_DASHBOARD_TOKEN), or bind 127.0.0.1")
        }
        if let t = effectiveToken, t.count < 16 { throw ValidationError("--token must be at least 16 characters") }
    }

    func run() async throws {
        let logger = try Logs.bootstrap(level: logLevel)
        let db = try store.openForReading()
        let b = try HTTPBind(bind, option: "--bind")
        let app = DashboardServer.application(Dashboard(store: db, artifacts: location.directory(db: store.db)), bind: b, token: effectiveToken, logger: logger)
        print("dashboard of \(store.db) at http://\(b.host.contains(":") ? "[\(b.host)]" : b.host):\(b.port)/")
        fflush(nil)
        do { try await app.runService() } catch { throw RuntimeError("the dashboard stopped: \(error)") }
    }
}

/// The dashboard over HTTP (Hummingbird): every GET goes to `Dashboard.respond`; the live
/// page's wait (`/api/search/ID?since=N`) to `Dashboard.waitForChange`.
enum DashboardServer {
    static func application(_ dashboard: Dashboard, bind: HTTPBind, token: String?, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            var query: [String: String] = [:]
            for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
            var setCookie: String?
            if let token {
                let cookie = request.headers[.cookie]?.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                    .first { $0.hasPrefix("topiary_token=") }.map { String($0.dropFirst("topiary_token=".count)) }
                let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
                let given = query["token"] ?? bearer ?? cookie
                guard let given, constantTimeEqual(given, token) else {
                    return Response(status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8"],
                                    body: .init(byteBuffer: ByteBuffer(string: "this dashboard needs its token: add ?token=… to the address\n")))
                }
                if query["token"] != nil { setCookie = "topiary_token=\(given); Path=/; HttpOnly; SameSite=Strict" }
            }
            let path = request.uri.path
            let parts = path.split(separator: "/")
            let answer: DashboardResponse
            if parts.count == 3, parts[0] == "api", parts[1] == "search", let id = Int64(parts[2]), let since = query["since"].flatMap(Int.init) {
                answer = await dashboard.waitForChange(search: id, since: since, timeout: Double(query["wait"] ?? "10") ?? 10)
            } else {
                answer = dashboard.respond(path: path, query: query)
            }
            var headers: HTTPFields = [.contentType: answer.contentType, .cacheControl: "no-store"]
            for (k, v) in answer.headers { if let name = HTTPFields.Element.Name(k) { headers[name] = v } }
            if let setCookie { headers[.setCookie] = setCookie }
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        router.get("/", use: handler)
        router.get("**", use: handler)
        return Application(router: router, configuration: .init(address: .hostname(bind.host, port: bind.port), serverName: "topiary"),
                           logger: logger)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
