import Foundation

/// Building HTML as text: escaping, the page frame, tables. Every value from the store
/// passes through `escape` (candidate ids, worker names and errors come from outside).
enum HTML {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A query string from pairs (nil values left out), for links that keep the page's settings.
    static func query(_ pairs: [(String, String?)]) -> String {
        let kept = pairs.compactMap { k, v in v.map { "\(k)=\(percent($0))" } }
        return kept.isEmpty ? "" : "?" + kept.joined(separator: "&")
    }

    static func percent(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }

    /// A whole page: title, navigation, body; `/static/app.js` runs the live parts.
    static func page(title: String, body: String, data: [String: String] = [:]) -> String {
        let attrs = data.sorted { $0.key < $1.key }.map { " data-\($0.key)=\"\(escape($0.value))\"" }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · Topiary</title><link rel="stylesheet" href="/static/style.css"></head>
            <body\(attrs)><header><a class="brand" href="/">Topiary</a> <span class="crumb">\(escape(title))</span></header>
            <main>
            \(body)
            </main><script src="/static/app.js"></script></body></html>
            """
    }

    /// A table; cells are HTML already (escape values before).
    static func table(_ headers: [String], _ rows: [[String]], id: String? = nil, numeric: Set<Int> = []) -> String {
        var out = "<table\(id.map { " id=\"\($0)\"" } ?? "")><thead><tr>"
        for h in headers { out += "<th>\(h)</th>" }
        out += "</tr></thead><tbody>"
        for r in rows {
            out += "<tr>"
            for (i, c) in r.enumerated() { out += numeric.contains(i) ? "<td class=\"num\">\(c)</td>" : "<td>\(c)</td>" }
            out += "</tr>"
        }
        return out + "</tbody></table>"
    }

    static func number(_ v: Double?, digits: Int = 2) -> String {
        guard let v, v.isFinite else { return "–" }
        return String(format: "%.\(digits)f", v)
    }

    static func ms(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "–" }
        return v >= 100 ? String(format: "%.1f", v) : v >= 1 ? String(format: "%.3f", v) : String(format: "%.4f", v)
    }

    static func date(_ d: Date?) -> String {
        guard let d else { return "–" }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return f.string(from: d)
    }
}
