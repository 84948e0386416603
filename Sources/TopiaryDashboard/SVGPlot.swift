import Foundation

/// A point of a plot: where, what it is (shown on hover), where it links, and its class
/// (`front` for a Pareto point, `cloud` for the others, `best` for best-so-far steps).
struct PlotPoint: Sendable {
    var x: Double
    var y: Double
    var id: String
    var label: String
    var href: String?
    var kind: String
}

/// Scatter plots and step lines drawn as SVG by hand: axes with round ticks, optional log
/// x axis, points that carry their candidate (`data-candidate`) and a `<title>` for hover.
struct SVGPlot: Sendable {
    var width = 600.0
    var height = 360.0
    var xLabel: String
    var yLabel: String
    var logX = false
    var id: String

    let margin = (left: 64.0, right: 16.0, top: 16.0, bottom: 48.0)

    /// Points, and a line through `line` (in order) drawn as steps when `steps`.
    func render(_ points: [PlotPoint], line: [(Double, Double)] = [], steps: Bool = false) -> String {
        let xs = (points.map(\.x) + line.map(\.0)).filter { $0.isFinite && (!logX || $0 > 0) }
        let ys = (points.map(\.y) + line.map(\.1)).filter(\.isFinite)
        var out = "<svg id=\"\(id)\" class=\"plot\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(yLabel)) against \(HTML.escape(xLabel))\">"
        out += "<rect class=\"frame\" x=\"\(margin.left)\" y=\"\(margin.top)\" width=\"\(width - margin.left - margin.right)\" height=\"\(height - margin.top - margin.bottom)\"/>"
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else {
            return out + "<text class=\"empty\" x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">no data yet</text></svg>"
        }
        let xr = logX ? Self.padLog(x0, x1) : Self.pad(x0, x1)
        let yr = Self.pad(y0, y1)
        func px(_ x: Double) -> Double {
            let t = logX ? (log10(x) - log10(xr.0)) / (log10(xr.1) - log10(xr.0)) : (x - xr.0) / (xr.1 - xr.0)
            return margin.left + t * (width - margin.left - margin.right)
        }
        func py(_ y: Double) -> Double { height - margin.bottom - (y - yr.0) / (yr.1 - yr.0) * (height - margin.top - margin.bottom) }

        // Axes: ticks and grid.
        for t in logX ? Self.logTicks(xr.0, xr.1) : Self.ticks(xr.0, xr.1) {
            let x = px(t)
            out += "<line class=\"grid\" x1=\"\(f(x))\" y1=\"\(margin.top)\" x2=\"\(f(x))\" y2=\"\(height - margin.bottom)\"/>"
            out += "<text class=\"tick\" x=\"\(f(x))\" y=\"\(height - margin.bottom + 16)\" text-anchor=\"middle\">\(Self.label(t))</text>"
        }
        for t in Self.ticks(yr.0, yr.1) {
            let y = py(t)
            out += "<line class=\"grid\" x1=\"\(margin.left)\" y1=\"\(f(y))\" x2=\"\(width - margin.right)\" y2=\"\(f(y))\"/>"
            out += "<text class=\"tick\" x=\"\(margin.left - 6)\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.label(t))</text>"
        }
        out += "<text class=\"axis\" x=\"\(f((margin.left + width - margin.right) / 2))\" y=\"\(height - 10)\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>"
        out += "<text class=\"axis\" transform=\"translate(14 \(f((margin.top + height - margin.bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>"

        if line.count > 1 {
            var d = ""
            for (i, p) in line.enumerated() where p.0.isFinite && p.1.isFinite && (!logX || p.0 > 0) {
                if i == 0 || d.isEmpty {
                    d += "M\(f(px(p.0))) \(f(py(p.1)))"
                } else if steps {
                    d += " H\(f(px(p.0))) V\(f(py(p.1)))"
                } else {
                    d += " L\(f(px(p.0))) \(f(py(p.1)))"
                }
            }
            out += "<path class=\"line\" d=\"\(d)\"/>"
        }
        // The cloud first, so the highlighted points are drawn on top.
        for p in points.sorted(by: { ($0.kind == "cloud" ? 0 : 1) < ($1.kind == "cloud" ? 0 : 1) })
        where p.x.isFinite && p.y.isFinite && (!logX || p.x > 0) {
            let circle = "<circle class=\"\(p.kind)\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(p.kind == "cloud" ? 2.5 : 4.5)\" "
                + "data-candidate=\"\(HTML.escape(p.id))\" data-x=\"\(p.x)\" data-y=\"\(p.y)\"><title>\(HTML.escape(p.label))</title></circle>"
            out += p.href.map { "<a href=\"\(HTML.escape($0))\">\(circle)</a>" } ?? circle
        }
        return out + "</svg>"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// The range with 5% of room on each side (a single value gets room around it).
    static func pad(_ lo: Double, _ hi: Double) -> (Double, Double) {
        if hi - lo < 1e-12 { let d = Swift.max(abs(lo) * 0.05, 1e-6); return (lo - d, hi + d) }
        let d = (hi - lo) * 0.05
        return (lo - d, hi + d)
    }

    static func padLog(_ lo: Double, _ hi: Double) -> (Double, Double) {
        if hi / lo < 1.0001 { return (lo / 1.5, hi * 1.5) }
        let r = pow(hi / lo, 0.05)
        return (lo / r, hi * r)
    }

    /// About five round ticks (1, 2 or 5 times a power of ten apart) inside the range.
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 5
        guard raw > 0, raw.isFinite else { return [lo] }
        let p = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * p }.first { $0 >= raw } ?? 10 * p
        var t = ceil(lo / step) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 && out.count < 20 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    /// Powers of ten (and 2x, 5x when the range is short) inside a log range.
    static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        var out: [Double] = []
        let decades = log10(hi) - log10(lo)
        for e in Int(floor(log10(lo)))...Int(ceil(log10(hi))) {
            for m in decades < 2 ? [1.0, 2, 5] : [1.0] {
                let v = m * pow(10, Double(e))
                if v >= lo && v <= hi { out.append(v) }
            }
        }
        return out.isEmpty ? [lo, hi] : out
    }

    static func label(_ v: Double) -> String {
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1e9 { return String(format: "%gG", v / 1e9) }
        if a >= 1e6 { return String(format: "%gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%gK", v / 1e3) }
        return String(format: "%g", (v * 1e6).rounded() / 1e6)
    }
}
