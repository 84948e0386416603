import Foundation
import TopiaryStore

/// `/`: every search with its progress (updated live by `/static/app.js`).
struct SearchesPage {
    let store: Store

    func render() throws -> String {
        let searches = try store.searches().reversed()
        var rows: [[String]] = []
        for rec in searches {
            let s = try SearchStatus.read(store, rec)
            let id = rec.id!
            rows.append([
                "<a href=\"/search/\(id)\">\(id)</a>", HTML.escape(rec.spaceName), HTML.escape(rec.target), HTML.escape(rec.strategy),
                "<span class=\"state\">\(rec.state.rawValue)</span>",
                s.progressHTML,
                "<span class=\"best\">\(HTML.number(s.best?.accuracy))</span>" + (s.best.map { " <a href=\"/candidate/\($0.candidateID)?search=\(id)\">\(HTML.escape($0.candidateID))</a>" } ?? ""),
                HTML.date(rec.createdAt),
            ])
        }
        var body = "<h1>Searches</h1>"
        if rows.isEmpty {
            body += "<p>No searches in this database yet. Start one with <code>topiary search start SPACE --budget N</code>.</p>"
        } else {
            body += HTML.table(["search", "space", "target", "strategy", "state", "progress", "best accuracy", "started"], rows, id: "searches")
        }
        return HTML.page(title: "searches", body: body, data: ["page": "searches"])
    }
}
