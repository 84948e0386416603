import Foundation
import Testing
import TopiaryCore
@testable import TopiarySearch

@Suite("Synthetic landscapes: the strategy suite's benchmarks over real spaces")
struct SyntheticLandscapeTests {
    static let spaces = ["nas-bench-macro", "nas-bench-201", "fashion-mobilenet", "mobilenetv3-imagenet"]

    @Test("scaled to 90 ± 2 over random candidates it was not scaled on; interactions as strong as asked", arguments: spaces)
    func scale(space name: String) throws {
        let space = try loadSpace(name)
        for interaction in [0.0, 1.0] {
            let land = try SyntheticLandscape(name: name, space: space, interaction: interaction, noise: 0.1, seed: 11)
            let values = space.sample(count: 3_000, seed: 999).map { land.value($0) }
            let mean = values.reduce(0, +) / Double(values.count)
            #expect(abs(mean - 90) < 0.25, "\(name): mean \(mean)")
            #expect(abs(SyntheticLandscape.sd(values) - 2) < 0.25, "\(name): sd \(SyntheticLandscape.sd(values))")
            #expect(interaction == 0 ? land.pairs.isEmpty : land.pairs.count == land.dims.count)
        }
    }

    @Test("a dimension is absent from a candidate exactly when its exported condition says so (what Optuna's define-by-run mirrors)",
          arguments: ["fashion-mobilenet", "mobilenetv3-imagenet"])
    func conditions(space name: String) throws {
        let space = try loadSpace(name)
        let land = try SyntheticLandscape(name: name, space: space, interaction: 0.5, noise: 0.1, seed: 3)
        #expect(land.dims.contains { $0.condition != nil }, "the space has conditional dimensions")
        var rng = SeededGenerator(seed: 5)
        var candidates = space.sample(count: 300, seed: 17)
        for i in 0..<300 { candidates.append(space.mutate(candidates[i], using: &rng)) }
        for c in candidates {
            let x = land.indices(of: c)
            for (d, dim) in land.dims.enumerated() {
                let active = dim.condition.map { cond in cond.contains { x[$0.dim] == nil ? $0.whenAbsent : $0.allowed.contains(x[$0.dim]!) } } ?? true
                #expect(active == (x[d] != nil), "\(dim.parameter.name) of \(land.key(x))")
            }
        }
    }

    @Test("noise is a deterministic standard normal per (seed, key, evaluation)")
    func noise() throws {
        let draws = (0..<20_000).map { SyntheticLandscape.noiseDraw(seed: UInt64($0 % 7), key: "k\($0)", k: $0 % 3) }
        let mean = draws.reduce(0, +) / Double(draws.count)
        #expect(abs(mean) < 0.03)
        #expect(abs(SyntheticLandscape.sd(draws) - 1) < 0.03)
        #expect(SyntheticLandscape.noiseDraw(seed: 4, key: "1,2,-", k: 2) == SyntheticLandscape.noiseDraw(seed: 4, key: "1,2,-", k: 2))
        #expect(SyntheticLandscape.noiseDraw(seed: 4, key: "1,2,-", k: 2) != SyntheticLandscape.noiseDraw(seed: 4, key: "1,2,-", k: 3))
    }

    /// bench/testdata/fashion-mobilenet-landscape.json is what bench/test_landscape.py reads:
    /// both languages are held to the same file. Regenerate (after a deliberate change) with
    /// TOPIARY_REGENERATE_FIXTURES=1 swift test --filter SyntheticLandscapeTests.
    @Test("the landscape matches the fixture the Python reader is tested on")
    func fixture() throws {
        let land = try SyntheticLandscape(name: "fashion-mobilenet/fixture", space: try loadSpace("fashion-mobilenet"),
                                          interaction: 1.0, noise: 0.25, seed: 7)
        let url = repoRoot.appendingPathComponent("bench/testdata/fashion-mobilenet-landscape.json")
        if ProcessInfo.processInfo.environment["TOPIARY_REGENERATE_FIXTURES"] == "1" {
            try land.json().write(to: url)
        }
        let fixture = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let checks = try #require(fixture["checks"] as? [[String: Any]])
        let ours = try #require(try JSONSerialization.jsonObject(with: land.json()) as? [String: Any])["checks"] as? [[String: Any]]
        #expect(checks.count == 20 && ours?.count == 20)
        for (a, b) in zip(checks, ours ?? []) {
            #expect(a["key"] as? String == b["key"] as? String)
            let va = try #require(a["value"] as? Double), vb = try #require(b["value"] as? Double)
            #expect(abs(va - vb) < 1e-9, "\(a["key"] ?? "?"): fixture \(va), now \(vb)")
        }
        #expect((fixture["offset"] as? Double).map { abs($0 - land.offset) < 1e-9 } == true)
    }

    @Test("the trade-off cost is positive, log-normal-like and correlated with accuracy as asked")
    func tradeOffShape() throws {
        for name in ["nas-bench-201", "mobilenetv3-imagenet"] {
            let space = try loadSpace(name)
            let land = try SyntheticLandscape(name: name, space: space, interaction: 1.0, noise: 0.1, seed: 5)
            let cost = try SyntheticTradeOff(accuracy: land, interaction: 1.0, seed: 5)
            let sample = space.sample(count: 3_000, seed: 11)
            let acc = sample.map { land.value($0) }
            let logCost = sample.map { log(cost.value($0)) }
            #expect(sample.allSatisfy { cost.value($0) > 0 })
            let sd = SyntheticLandscape.sd(logCost)
            #expect(abs(sd - SyntheticTradeOff.logSD) < 0.15, "\(name): log-cost sd \(sd)")
            let (ma, mc) = (acc.reduce(0, +) / Double(acc.count), logCost.reduce(0, +) / Double(logCost.count))
            let cov = zip(acc, logCost).map { ($0 - ma) * ($1 - mc) }.reduce(0, +) / Double(acc.count)
            let rho = cov / (SyntheticLandscape.sd(acc) * sd)
            #expect(abs(rho - SyntheticTradeOff.correlation) < 0.15, "\(name): correlation \(rho)")
            // The reference point leaves some random candidates out and most in.
            let inside = sample.filter { land.value($0) > cost.reference.0 && cost.value($0) < cost.reference.1 }.count
            #expect(inside > sample.count / 2 && inside < sample.count)
        }
    }

    /// bench/testdata/nas-bench-201-tradeoff.json is what bench/test_landscape.py reads for the
    /// cost (`TradeOff`); regenerate as the landscape fixture above.
    @Test("the trade-off cost matches the fixture the Python reader is tested on")
    func tradeOffFixture() throws {
        let land = try SyntheticLandscape(name: "nas-bench-201/fixture", space: try loadSpace("nas-bench-201"),
                                          interaction: 1.0, noise: 0.25, seed: 9)
        let cost = try SyntheticTradeOff(accuracy: land, interaction: 1.0, seed: 9)
        let url = repoRoot.appendingPathComponent("bench/testdata/nas-bench-201-tradeoff.json")
        if ProcessInfo.processInfo.environment["TOPIARY_REGENERATE_FIXTURES"] == "1" {
            try cost.json().write(to: url)
        }
        let fixture = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let checks = try #require(fixture["checks"] as? [[String: Any]])
        #expect(checks.count == 20)
        for c in checks {
            let key = try #require(c["key"] as? String)
            let x = key.split(separator: ",").map { $0 == "-" ? nil : Int($0) }
            let v = try #require(c["cost"] as? Double)
            #expect(abs(cost.value(x) - v) < 1e-9 * max(1, v), "\(key): fixture \(v), now \(cost.value(x))")
        }
    }
}
