import Foundation
import TopiaryCore
import TopiaryStore

/// `/search/ID`: progress, best-so-far, the Pareto front on a chosen target and axis,
/// parameter importance and the trial table (sortable, filterable, paged).
/// `/search/ID/plots` is the plots alone, which the live page reloads as results arrive.
struct SearchPage {
    let store: Store
    let record: SearchRecord
    let status: SearchStatus
    let query: [String: String]
    let importanceSample: Int
    let choices: ChoiceCache
    /// The targets with latency figures for this search's candidates, and the one shown.
    let targets: [String]
    let target: String?
    let axis: Objective

    static let axes: [Objective] = [.latency, .size, .memory, .macs, .params]

    init(store: Store, id: Int64, query: [String: String], importanceSample: Int, choices: ChoiceCache) throws {
        guard let rec = try store.search(id) else { throw DashboardError(status: 404, message: "no search \(id) in this database") }
        self.store = store
        record = rec
        status = try SearchStatus.read(store, rec)
        self.query = query
        self.importanceSample = importanceSample
        self.choices = choices
        targets = try store.latencyTargets(search: id)
        if let t = query["target"], !t.isEmpty {
            guard targets.contains(t) else {
                throw DashboardError(status: 400, message: "no latency figures for target '\(t)' in search \(id)"
                                     + (targets.isEmpty ? "" : " (targets: \(targets.joined(separator: ", ")))"))
            }
            target = t
        } else {
            target = targets.contains(rec.target) ? rec.target : targets.first
        }
        if let a = query["axis"], !a.isEmpty {
            guard let o = Objective(rawValue: a), Self.axes.contains(o) else {
                throw DashboardError(status: 400, message: "axis '\(a)': use one of \(Self.axes.map(\.rawValue).joined(separator: ", "))")
            }
            if o == .latency && target == nil { throw DashboardError(status: 400, message: "no latency figures in this search: choose another axis") }
            axis = o
        } else {
            axis = target == nil ? .size : .latency
        }
    }

    var id: Int64 { record.id! }

    func render() throws -> String {
        var body = "<h1>Search \(id) <small>\(HTML.escape(record.spaceName)) on \(HTML.escape(record.target)), \(HTML.escape(record.strategy))</small></h1>"
        body += "<section id=\"status\">\(status.progressHTML)</section>"
        body += "<p class=\"meta\">objectives \(HTML.escape(record.objectives.joined(separator: ", "))) · constraints \(HTML.escape(constraintsText)) · seed \(record.seedValue) · started \(HTML.date(record.createdAt))</p>"
        body += controls()
        body += "<section id=\"plots\">\(try plots())</section>"
        // Importance is the heaviest part and does not change with each result: the page
        // loads it after itself (a link without JavaScript).
        let importanceURL = "/search/\(id)/importance" + HTML.query([("target", target), ("axis", axis.rawValue)])
        body += "<section id=\"importance\" data-src=\"\(importanceURL)\"><h2>Parameter importance</h2><p><a href=\"\(importanceURL)\">show</a></p></section>"
        body += try trialTable()
        return HTML.page(title: "search \(id)", body: body,
                         data: ["page": "search", "search": String(id), "ended": String(status.ended), "state": record.state.rawValue,
                                "plots": "/search/\(id)/plots" + HTML.query([("target", target), ("axis", axis.rawValue)])])
    }

    var constraintsText: String {
        let list = (try? JSONText.parse(record.constraints))?.arrayValue?.compactMap(\.stringValue) ?? []
        return list.isEmpty ? "none" : list.joined(separator: ", ")
    }

    /// Target and axis of the Pareto plot.
    func controls() -> String {
        var out = "<form class=\"controls\" method=\"get\"><label>target <select name=\"target\">"
        for t in targets { out += "<option\(t == target ? " selected" : "")>\(HTML.escape(t))</option>" }
        if targets.isEmpty { out += "<option value=\"\">(no latency figures)</option>" }
        out += "</select></label> <label>against <select name=\"axis\">"
        for a in Self.axes where a != .latency || target != nil { out += "<option value=\"\(a.rawValue)\"\(a == axis ? " selected" : "")>\(axisName(a))</option>" }
        out += "</select></label> <button>show</button></form>"
        return out
    }

    func axisName(_ a: Objective) -> String {
        switch a {
        case .latency: return "latency (ms)"
        case .size: return "size (KiB)"
        case .memory: return "peak memory (KiB)"
        case .macs: return "MACs"
        case .params: return "parameters"
        case .accuracy: return "accuracy"
        }
    }

    func axisValue(_ e: LeaderboardEntry) -> Double? {
        switch axis {
        case .latency: return e.latencyMs
        case .size: return Double(e.sizeBytes) / 1024
        case .memory: return Double(e.peakActivationBytes) / 1024
        case .macs: return Double(e.macs)
        case .params: return Double(e.params)
        case .accuracy: return e.accuracy
        }
    }

    /// The front of accuracy (up) against the axis (down) on the target: the same query as
    /// `topiary leaderboard --search ID --target T --pareto --objectives accuracy,AXIS`.
    func paretoEntries() throws -> [LeaderboardEntry] {
        try store.paretoFront(LeaderboardQuery(search: id, target: target, limit: Int.max), objectives: [.accuracy, axis])
    }

    func plots() throws -> String {
        var out = "<div class=\"plots\"><figure><figcaption>Best accuracy so far</figcaption>\(try bestSoFar())</figure>"
        let front = try paretoEntries()
        let frontIDs = Set(front.map(\.candidateID))
        // Context: the most accurate other candidates, at most 600.
        let others = try store.leaderboard(LeaderboardQuery(search: id, target: target, orderBy: .accuracy, limit: 600))
            .filter { !frontIDs.contains($0.candidateID) }
        func point(_ e: LeaderboardEntry, _ kind: String) -> PlotPoint? {
            guard let x = axisValue(e), let y = e.accuracy else { return nil }
            let label = "\(e.candidateID): accuracy \(HTML.number(y, digits: 3)), \(axisName(axis)) \(SVGPlot.label(x)), \(e.compressionSummary)"
            return PlotPoint(x: x, y: y, id: e.candidateID, label: label, href: "/candidate/\(e.candidateID)?search=\(id)", kind: kind)
        }
        let points = others.compactMap { point($0, "cloud") } + front.compactMap { point($0, "front") }
        let line = front.compactMap { e in axisValue(e).flatMap { x in e.accuracy.map { (x, $0) } } }.sorted { $0.0 < $1.0 }
        // Sizes and latencies often span decades: a log axis when they do.
        let xs = points.map(\.x)
        let logX = (xs.min() ?? 0) > 0 && (xs.max() ?? 0) / (xs.min() ?? 1) > 20
        let plot = SVGPlot(xLabel: axisName(axis) + (target.map { axis == .latency ? " on \($0)" : "" } ?? ""), yLabel: "accuracy",
                           logX: logX, id: "pareto")
        out += "<figure><figcaption>Pareto front: accuracy against \(axisName(axis))\(target.map { " on \(HTML.escape($0))" } ?? "") · \(front.count) points</figcaption>"
        out += plot.render(points, line: line, steps: true) + "</figure></div>"
        return out
    }

    /// Each completed result in the order it finished, and the best so far as a step line.
    func bestSoFar() throws -> String {
        let results = try store.completedInOrder(search: id)
        var line: [(Double, Double)] = []
        var points: [PlotPoint] = []
        var best = -Double.infinity
        let stride = max(1, results.count / 600)
        for (i, r) in results.enumerated() {
            let n = Double(i + 1)
            if r.accuracy > best {
                best = r.accuracy
                line.append((n, best))
                points.append(PlotPoint(x: n, y: best, id: r.candidate, label: "result \(i + 1): \(r.candidate) \(HTML.number(best, digits: 3)) (new best)",
                                        href: "/trial/\(r.trial)", kind: "best"))
            } else if i % stride == 0 {
                points.append(PlotPoint(x: n, y: r.accuracy, id: r.candidate, label: "result \(i + 1): \(r.candidate) \(HTML.number(r.accuracy, digits: 3))",
                                        href: "/trial/\(r.trial)", kind: "cloud"))
            }
        }
        if let last = line.last, results.count > Int(last.0) { line.append((Double(results.count), last.1)) }
        return SVGPlot(xLabel: "completed results", yLabel: "accuracy", id: "best-so-far").render(points, line: line, steps: true)
    }

    /// η² of each choice for accuracy and for the axis figure, over the latest results.
    func importance() throws -> String {
        let entries = try store.leaderboardSample(LeaderboardQuery(search: id, target: target, limit: importanceSample))
        guard entries.count >= 5 else {
            return "<h2>Parameter importance</h2><p>Needs 5 or more results (\(entries.count) so far).</p>"
        }
        let choices = try self.choices.choices(entries.map(\.candidateID), store: store)
        let acc = ParameterImportance.shares(entries.compactMap { e in e.accuracy.flatMap { a in choices[e.candidateID].map { ($0, a) } } })
        let fig = ParameterImportance.shares(entries.compactMap { e in axisValue(e).flatMap { x in choices[e.candidateID].map { ($0, x) } } })
        let figShare = Dictionary(fig.map { ($0.dimension, $0.share) }, uniquingKeysWith: { a, _ in a })
        var rows: [[String]] = []
        for s in acc.prefix(25) {
            rows.append([HTML.escape(s.dimension), bar(s.share), bar(figShare[s.dimension] ?? 0), String(s.levels),
                         "\(HTML.escape(s.bestValue)) (\(HTML.number(s.bestMean)))"])
        }
        var out = "<h2>Parameter importance</h2>"
        out += "<p class=\"meta\">Share of the variance each choice explains (η²) over \(entries.count) results"
        out += entries.count == importanceSample ? " (a sample: candidates in the order of their ids, which are hashes)" : ""
        out += ", for accuracy and for \(axisName(axis)).</p>"
        out += HTML.table(["choice", "accuracy", axisName(axis), "values", "best value (mean accuracy)"], rows, id: "importance-table")
        return out
    }

    func bar(_ share: Double) -> String {
        "<span class=\"share\"><span style=\"width:\(String(format: "%.0f", share * 100))%\"></span></span> \(String(format: "%.2f", share))"
    }

    /// The trial table with its filter form, sortable headers and pages.
    func trialTable() throws -> String {
        var q = TrialTableQuery(search: id)
        func num(_ key: String) throws -> Double? {
            guard let v = query[key], !v.isEmpty else { return nil }
            guard let d = Double(v), d.isFinite, d >= 0 else { throw DashboardError(status: 400, message: "\(key) must be a non-negative number, got '\(v)'") }
            return d
        }
        if let s = query["state"], !s.isEmpty {
            guard TrialState(rawValue: s) != nil else {
                throw DashboardError(status: 400, message: "state '\(s)': use one of \(TrialState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            q.state = s
        }
        q.maxParams = try num("max_params").map { Int($0) }
        q.maxSizeBytes = try num("max_size_kb").map { Int($0 * 1024) }
        q.maxPeakActivationBytes = try num("max_memory_kb").map { Int($0 * 1024) }
        q.minAccuracy = try num("min_accuracy")
        if let s = query["sort"], !s.isEmpty {
            guard let c = TrialTableQuery.Column(rawValue: s) else {
                throw DashboardError(status: 400, message: "sort '\(s)': use one of \(TrialTableQuery.Column.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            q.sort = c
        }
        q.descending = query["order"] == "desc"
        let page = max(1, Int(query["page"] ?? "1") ?? 1)
        q.offset = (page - 1) * q.limit
        let (rows, total) = try store.trialTable(q)

        var out = "<section id=\"trials\"><h2>Trials</h2><form class=\"controls\" method=\"get\">"
        for keep in ["target", "axis"] { if let v = query[keep] { out += "<input type=\"hidden\" name=\"\(keep)\" value=\"\(HTML.escape(v))\">" } }
        out += "<label>state <select name=\"state\"><option value=\"\">any</option>"
        for s in TrialState.allCases { out += "<option\(q.state == s.rawValue ? " selected" : "")>\(s.rawValue)</option>" }
        out += "</select></label>"
        for (key, label) in [("max_params", "params ≤"), ("max_size_kb", "size KiB ≤"), ("max_memory_kb", "peak KiB ≤"), ("min_accuracy", "accuracy ≥")] {
            out += " <label>\(label) <input name=\"\(key)\" size=\"8\" value=\"\(HTML.escape(query[key] ?? ""))\"></label>"
        }
        out += " <button>filter</button></form>"
        let more = total > q.countLimit
        out += "<p class=\"meta\"><span id=\"trial-total\">\(more ? "\(Format.grouped(q.countLimit))+" : String(total))</span> trials match · page \(page)"
            + (more ? "" : " of \(max(1, (total + q.limit - 1) / q.limit))") + "</p>"

        let columns: [(TrialTableQuery.Column?, String)] = [(.id, "trial"), (nil, "candidate"), (.state, "state"), (.fidelity, "fidelity"),
                                                            (.accuracy, "accuracy"), (.params, "params"), (.macs, "MACs"), (.size, "size"),
                                                            (.memory, "peak mem"), (nil, "compression"), (.seconds, "seconds"), (nil, "worker")]
        func link(_ c: TrialTableQuery.Column?, _ label: String) -> String {
            guard let c else { return label }
            let desc = q.sort == c ? !q.descending : (c == .accuracy)
            let pairs: [(String, String?)] = ["target", "axis", "state", "max_params", "max_size_kb", "max_memory_kb", "min_accuracy"].map { ($0, query[$0]) }
                + [("sort", c.rawValue), ("order", desc ? "desc" : "asc")]
            let arrow = q.sort == c ? (q.descending ? " ▾" : " ▴") : ""
            return "<a href=\"/search/\(id)\(HTML.query(pairs))#trials\">\(label)\(arrow)</a>"
        }
        let cells = rows.map { r in
            ["<a href=\"/trial/\(r.trialID)\">\(r.trialID)</a>", "<a href=\"/candidate/\(r.candidateID)?search=\(id)\">\(HTML.escape(r.candidateID))</a>",
             "<span class=\"st-\(r.state)\" title=\"\(HTML.escape(r.error ?? ""))\">\(r.state)</span>", SVGPlot.label(r.fidelity),
             HTML.number(r.accuracy), Format.count(r.params), Format.count(r.macs), Format.bytes(r.sizeBytes), Format.bytes(r.peakActivationBytes),
             HTML.escape(r.compressionSummary), HTML.number(r.seconds, digits: 1), HTML.escape(r.workerID ?? "–")]
        }
        out += HTML.table(columns.map { link($0.0, $0.1) }, cells, id: "trial-table", numeric: [0, 3, 4, 5, 6, 7, 8, 10])
        var nav: [String] = []
        func pageLink(_ p: Int, _ label: String) -> String {
            let pairs: [(String, String?)] = ["target", "axis", "state", "max_params", "max_size_kb", "max_memory_kb", "min_accuracy", "sort", "order"]
                .map { ($0, query[$0]) } + [("page", String(p))]
            return "<a href=\"/search/\(id)\(HTML.query(pairs))#trials\">\(label)</a>"
        }
        if page > 1 { nav.append(pageLink(page - 1, "← previous")) }
        if page * q.limit < total { nav.append(pageLink(page + 1, "next →")) }
        if !nav.isEmpty { out += "<p class=\"pages\">\(nav.joined(separator: " · "))</p>" }
        return out + "</section>"
    }
}
