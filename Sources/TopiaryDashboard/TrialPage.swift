import Foundation
import TopiaryCore
import TopiaryStore

/// `/trial/ID`: what the trial was, how it ended, and its learning curves from the
/// progress its worker reported (one curve per numeric metric, latest attempt).
struct TrialPage {
    let store: Store
    let trial: TrialRecord

    init(store: Store, id: Int64) throws {
        guard let t = try store.trial(id) else { throw DashboardError(status: 404, message: "no trial \(id) in this database") }
        self.store = store
        trial = t
    }

    func render() throws -> String {
        let t = trial
        var body = "<h1>Trial \(t.trialID) <small>search <a href=\"/search/\(t.searchID)\">\(t.searchID)</a></small></h1>"
        let seconds = t.startedAt.flatMap { s in t.finishedAt.map { $0.timeIntervalSince(s) } }
        body += HTML.table(["field", "value"], [
            ["candidate", "<a href=\"/candidate/\(t.candidateID)?search=\(t.searchID)\">\(HTML.escape(t.candidateID))</a>"],
            ["kind", t.kind.rawValue], ["state", "<span class=\"st-\(t.state.rawValue)\">\(t.state.rawValue)</span>"],
            ["attempt", String(t.attempt)], ["fidelity", SVGPlot.label(t.fidelity)], ["accuracy", HTML.number(t.accuracy, digits: 3)],
            ["worker", HTML.escape(t.workerID ?? "–")], ["queued", HTML.date(t.queuedAt)], ["started", HTML.date(t.startedAt)],
            ["finished", HTML.date(t.finishedAt)], ["seconds", HTML.number(seconds, digits: 1)],
            ["error", HTML.escape(t.error ?? "–")],
        ], id: "trial-fields")

        let reports = try store.progress(trial: t.trialID)
        let attempt = reports.map(\.attempt).max()
        var series: [String: [(Double, Double)]] = [:]
        for r in reports where r.attempt == attempt {
            for (k, v) in (try? JSONText.parse(r.metrics))?.objectPairs ?? [] {
                if let d = v.doubleValue, d.isFinite { series[k, default: []].append((Double(r.step), d)) }
            }
        }
        body += "<h2>Learning curves</h2>"
        if series.isEmpty {
            body += "<p>No progress was reported for this trial.</p>"
        } else {
            body += "<p class=\"meta\">\(reports.filter { $0.attempt == attempt }.count) reports of attempt \(attempt ?? 1).</p><div class=\"plots\">"
            // Accuracy first, then the rest by name.
            for name in series.keys.sorted(by: { ($0 == "accuracy" ? 0 : 1, $0) < ($1 == "accuracy" ? 0 : 1, $1) }) {
                let pts = series[name]!.sorted { $0.0 < $1.0 }
                let points = pts.map { PlotPoint(x: $0.0, y: $0.1, id: t.candidateID, label: "step \(SVGPlot.label($0.0)): \(name) \(SVGPlot.label($0.1))",
                                                 href: nil, kind: "best") }
                body += "<figure><figcaption>\(HTML.escape(name))</figcaption>"
                body += SVGPlot(xLabel: "step", yLabel: name, id: "curve-\(HTML.escape(name))").render(points, line: pts) + "</figure>"
            }
            body += "</div>"
        }
        if let m = t.metrics, let v = try? JSONText.parse(m) {
            body += "<h2>Result</h2><pre>\(HTML.escape(v.text(pretty: true)))</pre>"
        }
        return HTML.page(title: "trial \(t.trialID)", body: body, data: ["page": "trial"])
    }
}
