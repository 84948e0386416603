import Foundation
import Testing
import TopiaryCore
import TopiaryStore

/// `topiary dashboard` in a real browser (headless Chromium) and `serve --metrics` over HTTP.
@Suite("Dashboard and metrics over HTTP", .serialized, .enabled(if: Paths.haveBinary, "build the topiary binary first (swift build)"))
struct DashboardTests {
    static let pngInk = Paths.repo.appendingPathComponent("Tests/TopiaryIntegrationTests/Fixtures/png_ink.py").path

    func startDashboard(_ c: Cluster, port: Int, extra: [String] = []) throws -> Process {
        let p = try c.launch(["dashboard", "--db", c.db, "--bind", "127.0.0.1:\(port)"] + extra, log: "dashboard-\(port).log")
        try waitUntil(15, "the dashboard answers") { (try? httpGet(port, "/static/app.js").status) != nil }
        return p
    }

    @Test("a finished search in Chromium: the Pareto plot's points are the leaderboard's front, the trial count is the store's, the page is not blank",
          .enabled(if: Browser.path != nil, "install chromium (apt-get install chromium; scripts/setup.sh --test does)"))
    func finishedSearchInABrowser() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "60", "--target", "raspberry-pi-4", "--strategy", "evolution"])
        try c.waitForState(1, "completed", timeout: 90)
        let port = freePort()
        let dash = try startDashboard(c, port: port)
        defer { kill(dash.processIdentifier, SIGTERM); dash.waitUntilExit() }

        let url = "http://127.0.0.1:\(port)/search/1?target=raspberry-pi-4&axis=latency"
        let dom = try Browser.run(["--dump-dom", "--virtual-time-budget=2000"], url)
        let plotted = Set(Self.attributes(in: Self.element(dom, id: "pareto"), tag: "circle", class: "front", attribute: "data-candidate"))
        let cli = try c.run(["leaderboard", "--db", c.db, "--search", "1", "--target", "raspberry-pi-4", "--pareto",
                             "--objectives", "accuracy,latency", "--format", "json"])
        let front = Set((try JSONText.parse(cli.out).arrayValue ?? []).compactMap { $0["candidate_id"]?.stringValue })
        #expect(!front.isEmpty && plotted == front, "plot \(plotted.sorted()) vs leaderboard \(front.sorted())")
        let trials = try Store(path: c.db, mode: .readOnly).trials(search: 1).count
        #expect(dom.contains("<span id=\"trial-total\">\(trials)</span>"), "the trial table counts the store's \(trials) trials")
        #expect(dom.contains("id=\"importance-table\""), "parameter importance is shown")

        // The candidate page of the best, and its files.
        let best = try #require(try Store(path: c.db, mode: .readOnly).leaderboard(LeaderboardQuery(search: 1, limit: 1)).first)
        let page = try httpGet(port, "/candidate/\(best.candidateID)?search=1")
        #expect(page.status == 200 && page.body.contains("Layers on raspberry-pi-4") && page.body.contains("id=\"layers\""))
        let file = try httpGet(port, "/candidate/\(best.candidateID)/file/candidate.json")
        let space = try SearchSpace.load(path: Paths.macroSpace)
        #expect(try space.decode(json: file.body).id == best.candidateID)
        #expect(try httpGet(port, "/search/99").status == 404)
        #expect(try httpGet(port, "/search/1?axis=bogus").status == 400)

        let shot = c.dir.appendingPathComponent("search.png").path
        _ = try Browser.run(["--screenshot=\(shot)", "--window-size=1280,1000", "--virtual-time-budget=2000"], url)
        let measured = try Self.python([Self.pngInk, shot]).split(separator: " ").compactMap { Double($0) }
        #expect(measured.count == 2 && measured[0] > 0.02 && measured[1] > 20, "the screenshot has content: \(measured)")
    }

    @Test("the search page updates itself while the search runs",
          .enabled(if: Browser.path != nil, "install chromium (apt-get install chromium; scripts/setup.sh --test does)"))
    func livePage() throws {
        let c = try Cluster()
        try c.startDaemon()
        try c.startWorker("a", slots: 2, trainer: "sleepy")
        try c.control(["search", "start", Paths.macroSpace, "--budget", "40", "--trainer", "sleepy", "--fidelity", "sleep_s=0.6"])
        try waitUntil(20, "a first result") { try c.completed(1) >= 1 }
        let port = freePort()
        let dash = try startDashboard(c, port: port)
        defer { kill(dash.processIdentifier, SIGTERM); dash.waitUntilExit() }
        // Virtual time stops while the page waits on the server, so the page runs for real
        // until its script has applied a few changes.
        let dom = try Browser.run(["--dump-dom", "--virtual-time-budget=4000"], "http://127.0.0.1:\(port)/search/1")
        let updates = Int(Self.attributes(in: dom, tag: "body", class: nil, attribute: "data-updates").first ?? "0") ?? 0
        #expect(updates >= 1, "the page applied \(updates) live updates")
        let ended = Int(Self.attributes(in: dom, tag: "body", class: nil, attribute: "data-ended").first ?? "0") ?? 0
        #expect(ended >= 2, "ended trials seen by the page: \(ended)")
        try c.control(["search", "cancel", "1"])
    }

    @Test("a token protects the dashboard; beyond loopback it is required")
    func token() throws {
        let c = try Cluster()
        _ = try Store(path: c.db)
        let port = freePort()
        let token = "0123456789abcdef-secret"
        let dash = try startDashboard(c, port: port, extra: ["--token", token])
        defer { kill(dash.processIdentifier, SIGTERM); dash.waitUntilExit() }
        #expect(try httpGet(port, "/").status == 401)
        #expect(try httpGet(port, "/?token=wrong-wrong-wrong-wrong").status == 401)
        #expect(try httpGet(port, "/?token=\(token)").status == 200)
        #expect(try httpGet(port, "/", headers: ["Authorization": "Bearer \(token)"]).status == 200)
        #expect(try httpGet(port, "/", headers: ["Cookie": "topiary_token=\(token)"]).status == 200)
        let open = try c.run(["dashboard", "--db", c.db, "--bind", "0.0.0.0:\(freePort())"])
        #expect(open.status == 2 && open.err.contains("--token"))
    }

    @Test("serve --metrics: counters move during a search and the page parses as Prometheus text")
    func metrics() throws {
        let c = try Cluster()
        let port = freePort()
        try c.startDaemon(["--metrics", "127.0.0.1:\(port)"])
        try c.startWorker("a")
        let before = try Self.samples(try httpGet(port, "/metrics").body)
        try c.control(["search", "start", Paths.macroSpace, "--budget", "200"])
        try c.waitForState(1, "completed", timeout: 60)
        try waitUntil(5, "the gauges are refreshed") { (try Self.samples(try httpGet(port, "/metrics").body)["topiary_workers_connected"] ?? 0) == 1 }
        let after = try Self.samples(try httpGet(port, "/metrics").body)
        #expect((before["topiary_trials_dispatched_total"] ?? 0) == 0)
        #expect(after["topiary_trials_dispatched_total"] == 200)
        #expect(after["topiary_trials_ended_total{outcome=\"completed\"}"] == 200)
        #expect((after["topiary_worker_bytes_received_total"] ?? 0) > (before["topiary_worker_bytes_received_total"] ?? 0))
        #expect((after["topiary_store_write_seconds_count"] ?? 0) > 0)
        #expect(after["topiary_worker_slots{state=\"total\"}"] == 2)
        let bad = try c.run(["serve", "--db", c.db, "--metrics", "0.0.0.0:9464"])
        #expect(bad.status == 2 && bad.err.contains("--metrics"))
    }

    // MARK: Helpers

    /// Prometheus text format: every line a comment (# HELP/# TYPE) or `name{labels} value`.
    static func samples(_ text: String) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") { continue }
            guard line.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$"#,
                                   options: .regularExpression) != nil else {
                throw HarnessError("not Prometheus text: \(line)")
            }
            let parts = line.split(separator: " ")
            out[String(parts[0])] = Double(parts[1])
        }
        return out
    }

    /// The text of the element with this id (through its closing tag of the same name).
    static func element(_ html: String, id: String) -> String {
        guard let start = html.range(of: "id=\"\(id)\"") else { return "" }
        let rest = html[start.lowerBound...]
        guard let end = rest.range(of: "</svg>") else { return String(rest) }
        return String(rest[..<end.upperBound])
    }

    /// Values of `attribute` on `<tag …>` elements (with `class`, if given).
    static func attributes(in html: String, tag: String, class cls: String?, attribute: String) -> [String] {
        var out: [String] = []
        var rest = Substring(html)
        while let open = rest.range(of: "<\(tag)") {
            guard let close = rest[open.upperBound...].firstIndex(of: ">") else { break }
            let element = rest[open.upperBound..<close]
            if cls == nil || element.contains("class=\"\(cls!)\""), let a = element.range(of: "\(attribute)=\"") {
                let value = element[a.upperBound...].prefix { $0 != "\"" }
                out.append(String(value))
            }
            rest = rest[close...]
        }
        return out
    }

    static func python(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw HarnessError("python3 \(args.joined(separator: " ")) failed") }
        return String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
