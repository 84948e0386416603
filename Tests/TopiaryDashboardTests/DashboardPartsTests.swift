import Foundation
import Testing
@testable import TopiaryDashboard

@Suite("Dashboard parts: parameter importance, plot axes, escaping")
struct DashboardPartsTests {
    @Test("η² finds the choice the figure depends on, ignores one it does not, and counts values and results")
    func importance() {
        var rng = SystemRandomNumberGenerator()
        var rows: [(choices: [String: String], value: Double)] = []
        for i in 0..<400 {
            let a = ["1", "2", "3"][i % 3]
            let b = ["x", "y"][Int.random(in: 0...1, using: &rng)]
            let value = Double(a)! * 10 + Double.random(in: -0.5...0.5, using: &rng)
            rows.append((["arch.a": a, "arch.b": b], value))
        }
        let shares = ParameterImportance.shares(rows)
        #expect(shares.map(\.dimension) == ["arch.a", "arch.b"])
        #expect(shares[0].share > 0.95 && shares[1].share < 0.05)
        #expect(shares[0].levels == 3 && shares[0].count == 400 && shares[0].bestValue == "3")
        #expect(ParameterImportance.shares(Array(rows.prefix(2))).isEmpty, "too few results to say anything")
        #expect(ParameterImportance.shares(rows.map { ($0.choices, 1.0) }).isEmpty, "no variance, no shares")
    }

    @Test("axes get round ticks inside their range; log axes get powers of ten")
    func ticks() {
        #expect(SVGPlot.ticks(0, 100) == [0, 20, 40, 60, 80, 100])
        #expect(SVGPlot.ticks(0.31, 0.84).allSatisfy { $0 >= 0.31 && $0 <= 0.84 })
        #expect(SVGPlot.ticks(0.31, 0.84).count >= 3)
        #expect(SVGPlot.logTicks(3, 4_000) == [10, 100, 1_000])
        #expect(SVGPlot.label(25_000) == "25K" && SVGPlot.label(0.5) == "0.5")
    }

    @Test("a plot draws every point with its candidate and a hover title; an empty plot says so")
    func plot() {
        let pts = [PlotPoint(x: 1, y: 80, id: "abc", label: "a <b>", href: "/candidate/abc", kind: "front"),
                   PlotPoint(x: 2, y: 70, id: "def", label: "d", href: nil, kind: "cloud")]
        let svg = SVGPlot(xLabel: "x", yLabel: "y", id: "p").render(pts, line: [(1, 80), (2, 85)], steps: true)
        #expect(svg.contains("data-candidate=\"abc\"") && svg.contains("<title>a &lt;b&gt;</title>") && svg.contains("class=\"front\""))
        #expect(svg.components(separatedBy: "<circle").count == 3)
        #expect(SVGPlot(xLabel: "x", yLabel: "y", id: "e").render([]).contains("no data yet"))
    }

    @Test("text from the store is escaped in pages and links")
    func escaping() {
        #expect(HTML.escape("<script>alert('x')</script>&\"") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;")
        #expect(HTML.query([("a", "1 2"), ("b", nil), ("c", "x&y")]) == "?a=1%202&c=x%26y")
    }
}
