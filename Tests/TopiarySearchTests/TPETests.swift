import Foundation
import Testing
import TopiaryCore
@testable import TopiarySearch

@Suite("TPE: Parzen estimators over categorical dimensions")
struct TPETests {
    @Test("TPE beats random search on the synthetic objective of a large conditional space (not tuned on it: Optuna's defaults)")
    func beatsRandom() throws {
        let space = try loadSpace("fashion-mobilenet")
        let seeds: Range<UInt64> = 0..<10
        func mean(_ name: String) throws -> Double {
            var total = 0.0
            for seed in seeds {
                var s = try Strategies.make(name, problem: SearchProblem(space: space, seed: seed, objectives: [.accuracy]))
                var sim = Simulator(space: space, seed: seed, workers: 2)
                sim.noise = 0.5
                try sim.run(&s, trials: 80)
                total += sim.objective.value(try #require(s.best).candidate)
            }
            return total / Double(seeds.count)
        }
        let random = try mean("random"), tpe = try mean("tpe")
        #expect(tpe > random + 1, "tpe \(tpe) vs random \(random)")
    }

    @Test("multivariate TPE (joint kernels) also beats random there, and its density is a normalized mixture")
    func multivariate() throws {
        let space = try loadSpace("fashion-mobilenet")
        var total = (random: 0.0, joint: 0.0)
        for seed: UInt64 in 0..<10 {
            for (name, opts) in [("random", ""), ("tpe", "multivariate=true")] {
                var s = try Strategies.make(name, options: StrategyOptions(text: opts), problem: SearchProblem(space: space, seed: seed, objectives: [.accuracy]))
                var sim = Simulator(space: space, seed: seed, workers: 2)
                sim.noise = 0.5
                try sim.run(&s, trials: 80)
                let v = sim.objective.value(try #require(s.best).candidate)
                if name == "random" { total.random += v } else { total.joint += v }
            }
        }
        #expect(total.joint / 10 > total.random / 10 + 1, "joint \(total.joint / 10) vs random \(total.random / 10)")
        // Over two dimensions of 3 values each, the densities of all 9 points sum to 1.
        let macro = try loadSpace("nas-bench-macro")
        let dims = Array(macro.parameters.filter { !$0.isFixed }.prefix(2))
        let trials: [[Int?]] = [[0, 1], [2, nil], [1, 1]]
        var sum = 0.0
        for a in 0..<dims[0].choices.count {
            for b in 0..<dims[1].choices.count {
                sum += exp(TPE.JointModel.logDensity([a, b], trials, dims, prior: 1))
            }
        }
        #expect(abs(sum - 1) < 1e-9, "\(sum)")
    }

    @Test("after the random start, suggestions follow the good trials: a value only good trials had is drawn far more often")
    func followsTheGoodTrials() throws {
        let space = try loadSpace("nas-bench-macro")
        let p = SearchProblem(space: space, seed: 5, objectives: [.accuracy])
        var s = try Strategies.make("tpe", options: StrategyOptions(text: "startup=20"), problem: p)
        let dim = try #require(space.parameters.first { !$0.isFixed })
        let favoured = dim.choices[0]
        // The objective: 90 when the first dimension takes its first value, else 50.
        for sug in s.suggest(count: 20) {
            try s.tell(sug.key, .completed(["accuracy": sug.candidate.choices[dim.name] == favoured ? 90 : 50]))
        }
        let next = s.suggest(count: 30)
        let share = Double(next.filter { $0.candidate.choices[dim.name] == favoured }.count) / Double(next.count)
        #expect(share > 0.6, "share of the favoured value \(share), uniform would be \(1.0 / Double(dim.choices.count))")
        #expect(throws: StrategyError.self) { try Strategies.make("tpe", options: StrategyOptions(text: "gamma=2"), problem: p) }
    }

    @Test("with smoothing (the default), the recommendation sees through noise: its true value is higher than the best observation's")
    func smoothedRecommendation() throws {
        let space = try loadSpace("fashion-mobilenet")
        let land = try SyntheticLandscape(name: "test", space: space, interaction: 0.5, noise: 0.5, seed: 21)
        func mean(_ options: String) throws -> Double {
            var total = 0.0
            for seed in UInt64(0)..<12 {
                var s = try Strategies.make("tpe", options: StrategyOptions(text: options), problem: SearchProblem(space: space, seed: seed))
                for _ in 0..<80 {
                    let sug = try #require(s.suggest(count: 1).first)
                    try s.tell(sug.key, .completed(["accuracy": land.observe(sug.candidate, seed: seed, k: 0)]))
                }
                total += land.value(try #require(s.best).candidate)
            }
            return total / 12
        }
        let plain = try mean("smoothing=0"), smoothed = try mean("")
        #expect(smoothed > plain + 0.2, "smoothed \(smoothed) vs best observed \(plain)")
        #expect(throws: StrategyError.self) { try Strategies.make("tpe", options: StrategyOptions(text: "smoothing=2"), problem: SearchProblem(space: space, seed: 1)) }
    }
}
