import Foundation
import Testing
import TopiaryCore
@testable import TopiarySearch

@Suite("Bayesian optimization: a categorical Gaussian process and expected improvement")
struct BayesianOptimizationTests {
    @Test("bo beats random search on the synthetic objective of a large conditional space")
    func beatsRandom() throws {
        let space = try loadSpace("fashion-mobilenet")
        var total = (random: 0.0, bo: 0.0)
        for seed: UInt64 in 0..<6 {
            for name in ["random", "bo"] {
                var s = try Strategies.make(name, problem: SearchProblem(space: space, seed: seed, objectives: [.accuracy]))
                var sim = Simulator(space: space, seed: seed, workers: 2)
                sim.noise = 0.5
                try sim.run(&s, trials: 60)
                let v = sim.objective.value(try #require(s.best).candidate)
                if name == "random" { total.random += v } else { total.bo += v }
            }
        }
        #expect(total.bo / 6 > total.random / 6 + 1, "bo \(total.bo / 6) vs random \(total.random / 6)")
    }

    @Test("the process predicts candidates it was not fitted to: an additive landscape from 60 points, rank correlation above 0.9")
    func predictsHeldOutCandidates() throws {
        let space = try loadSpace("nas-bench-macro")
        let dims = space.dimensions
        // Each value of each dimension adds its own amount: the additive part of the kernel.
        func value(_ c: Candidate) -> Double {
            dims.enumerated().reduce(0.0) { s, e in
                s + Double(e.offset + 1) * SyntheticObjective.unit("\(e.element.name)=\(c.choices[e.element.name]!)")
            }
        }
        let train = space.sample(count: 60, seed: 3), test = space.sample(count: 200, seed: 4)
        let gp = try #require(CategoricalGP(dimensions: dims, candidates: train, y: train.map(value)))
        let predicted = test.map { gp.predict($0).mean }, truth = test.map(value)
        #expect(spearman(predicted, truth) > 0.9, "ρ \(spearman(predicted, truth)), chosen \(gp.hyper)")
        // Fitted means at the training points follow the data (no noise was added).
        #expect(spearman(gp.fittedMeans, train.map(value)) > 0.95)
    }

    @Test("expected improvement: σφ(0) at the incumbent, the plain gain without uncertainty")
    func expectedImprovementValues() {
        #expect(abs(expectedImprovement(mean: 1, sd: 1, best: 1) - 0.398_942_28) < 1e-6)
        #expect(expectedImprovement(mean: 3, sd: 0, best: 1) == 2)
        #expect(expectedImprovement(mean: 0, sd: 0, best: 1) == 0)
        #expect(expectedImprovement(mean: 2, sd: 0.5, best: 1) > expectedImprovement(mean: 2, sd: 0.1, best: 1))
    }

    @Test("a running trial counts as observed at the model's belief: the uncertainty around it drops")
    func pendingTrialsLowerTheUncertainty() throws {
        let space = try loadSpace("nas-bench-201")
        let problem = SearchProblem(space: space, seed: 9, objectives: [.accuracy])
        var s = try Strategies.make("bo", options: StrategyOptions(text: "startup=10"), problem: problem)
        let objective = SyntheticObjective(space: space)
        for sug in s.suggest(count: 12) {
            try s.tell(sug.key, .completed(["accuracy": objective.value(sug.candidate)]))
        }
        let running = try #require(s.suggest(count: 1).first)
        let bo = try #require(s as? BayesianOptimization)
        let fit = try #require(BayesianOptimization.fit(bo.core, bo.settings, bo.dimensions))
        let before = fit.gp.predict(running.candidate).sd
        let after = BayesianOptimization.withPending(fit, BayesianOptimization.pending(bo.core, fidelity: bo.problem.fidelity), bo.dimensions).predict(running.candidate).sd
        #expect(after < 0.9 * before, "sd \(before) → \(after)")
    }

    @Test("bad options are refused naming the option")
    func options() throws {
        let p = SearchProblem(space: try loadSpace("nas-bench-201"), seed: 1)
        #expect(throws: StrategyError.self) { try Strategies.make("bo", options: StrategyOptions(text: "pool=0,parents=0"), problem: p) }
        #expect(throws: StrategyError.self) { try Strategies.make("bo", options: StrategyOptions(text: "startup=1"), problem: p) }
        #expect(throws: StrategyError.self) { try Strategies.make("bo", options: StrategyOptions(text: "kernel=rbf"), problem: p) }
    }
}

/// Spearman's rank correlation (no ties expected).
func spearman(_ a: [Double], _ b: [Double]) -> Double {
    func ranks(_ x: [Double]) -> [Double] {
        var r = [Double](repeating: 0, count: x.count)
        for (rank, i) in x.indices.sorted(by: { x[$0] < x[$1] }).enumerated() { r[i] = Double(rank) }
        return r
    }
    let (ra, rb) = (ranks(a), ranks(b))
    let m = Double(a.count - 1) / 2
    var num = 0.0, da = 0.0, db = 0.0
    for i in a.indices {
        num += (ra[i] - m) * (rb[i] - m)
        da += (ra[i] - m) * (ra[i] - m)
        db += (rb[i] - m) * (rb[i] - m)
    }
    return num / (da * db).squareRoot()
}
