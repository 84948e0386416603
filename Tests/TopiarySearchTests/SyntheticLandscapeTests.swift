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
}
