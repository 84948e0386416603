import Foundation
import TopiaryCore

/// The tree-structured Parzen estimator (Bergstra et al., 2011), as Optuna's default sampler
/// runs it over categorical dimensions: after `startup` random trials, the completed trials
/// are split into the best `gamma` share ("good", at most 25) and the rest; each dimension
/// gets a smoothed categorical distribution l(x) over the good trials and g(x) over the rest
/// (every value starts with `prior` pseudo-counts, so nothing is ruled out); `candidates`
/// candidates are drawn from l and the one with the largest Σ log l(x)/g(x) over its active
/// dimensions is suggested. Dimensions are modelled independently (Optuna's univariate
/// TPE); a dimension a candidate does not use (a stage's missing block) is left out of both.
///
/// With `multivariate=true` (Optuna's `multivariate=True`) l and g are instead mixtures over
/// the trials of one kernel each, a product over all dimensions, plus a uniform prior
/// component: a candidate is drawn whole from one good trial's kernel, so the choices that
/// did well together are proposed together, and scored by log l(x)/g(x) of the mixtures.
///
/// The answer is noise-aware: completed trials are ranked by `(1 - smoothing) × observed +
/// smoothing × estimate`, the estimate being a Hamming-kernel Gaussian process's posterior
/// mean (as evolution's); `smoothing=0` is Optuna's best trial. The default, 1, was chosen on
/// the strategy suite by leave-one-benchmark-out (docs/STRATEGIES.md).
///
/// Options: `startup` (10), `candidates` (24), `gamma` (0.1), `prior` (1.0), `multivariate`
/// (false), `smoothing` (1.0), and the latency reward of `Fitness`. Single objective (the
/// primary; with the reward, its product).
public struct TPE: CoreBackedStrategy {
    public struct Settings: Sendable, Equatable {
        var fitness: Fitness
        var startup = 10
        var candidates = 24
        var gamma = 0.1
        var prior = 1.0
        var multivariate = false
        var smoothing = 1.0

        public init(options: StrategyOptions, problem: SearchProblem) throws(StrategyError) {
            var r = StrategyOptions.Reader("tpe", options)
            fitness = try Fitness(objective: problem.primary, reading: &r)
            startup = try r.int("startup", default: 10, in: 1...100_000)
            candidates = try r.int("candidates", default: 24, in: 1...10_000)
            gamma = try r.double("gamma", default: 0.1, in: 0.01...0.9)!
            prior = try r.double("prior", default: 1.0, in: 0.001...1_000)!
            multivariate = try r.choice("multivariate", default: "false", of: ["false", "true"]) == "true"
            smoothing = try r.double("smoothing", default: 1, in: 0...1)!
            try r.finish()
        }
    }

    var core: StrategyCore
    public let settings: Settings
    let encoding: CandidateEncoding

    public init(problem: SearchProblem, settings: Settings) {
        core = StrategyCore(name: "tpe", problem: problem)
        self.settings = settings
        encoding = CandidateEncoding(problem.space)
    }

    public var name: String { core.name }
    public var problem: SearchProblem { core.problem }
    public var history: TrialHistory { core.history }

    public mutating func suggest(count: Int) -> [Suggestion] {
        let settings = self.settings
        // One model per call: within a batch no result arrives, so every suggestion of it
        // would see the same split (and a batch still equals as many single calls).
        let scored = core.history.trials.compactMap { t in settings.fitness.score(t, core).map { (t, $0) } }
        let model = scored.count >= settings.startup ? Self.density(scored, settings, core.problem.space) : nil
        return core.suggest(count: count) { core, rng in
            let fidelity = core.problem.fidelity
            guard let model else {
                return core.randomCandidate(&rng).map { Suggestion(candidate: $0, fidelity: fidelity) }
            }
            // Everything drawn was tried already (a small or exhausted space): a fresh random one.
            let c = Self.bestDraw(model, settings.candidates, core, fidelity: fidelity, &rng) ?? core.randomCandidate(&rng)
            return c.map { Suggestion(candidate: $0, fidelity: fidelity) }
        }
    }

    /// Of `count` draws from l, the fresh one with the largest log l/g; nil when none is fresh.
    static func bestDraw(_ model: any Density, _ count: Int, _ core: StrategyCore, fidelity: Double,
                         _ rng: inout SeededGenerator) -> Candidate? {
        var best: (Candidate, Double)?
        for _ in 0..<count {
            let c = model.draw(core.problem.space, &rng)
            guard core.isFresh(c, fidelity: fidelity) && !core.history.containsCandidate(c.id) else { continue }
            let s = model.score(c)
            if best == nil || s > best!.1 { best = (c, s) }
        }
        return best?.0
    }

    public func recommendation(count: Int) -> [Trial] {
        guard settings.smoothing > 0 else { return rankByFitness(core.history.trials, settings.fitness, core, count: count) }
        return rankGP(core.history.trials, settings.fitness, settings.smoothing, encoding, core, count: count)
    }

    mutating func restore(_ trials: [Trial]) throws(StrategyError) { try core.restore(trials) }

    /// What the suggestion loop needs of l and g: draw from l, score by log l/g.
    protocol Density {
        func draw(_ space: SearchSpace, _ rng: inout SeededGenerator) -> Candidate
        func score(_ c: Candidate) -> Double
    }

    /// l and g per dimension: probabilities of each value among the good and the other trials.
    struct Model: Density {
        var dimensions: [(parameter: Parameter, good: [Double], bad: [Double])]

        /// A candidate whose dimensions are drawn from l (inactive ones are dropped).
        func draw(_ space: SearchSpace, _ rng: inout SeededGenerator) -> Candidate {
            var partial: [String: ChoiceValue] = [:]
            for d in dimensions {
                var u = rng.unit()
                var pick = d.good.count - 1
                for (i, p) in d.good.enumerated() {
                    if u < p { pick = i; break }
                    u -= p
                }
                partial[d.parameter.name] = d.parameter.choices[pick]
            }
            return space.candidate(from: partial, using: &rng)
        }

        /// Σ log l(x) / g(x) over the candidate's active dimensions.
        func score(_ c: Candidate) -> Double {
            var s = 0.0
            for d in dimensions {
                guard let v = c.choices[d.parameter.name], let i = d.parameter.index(of: v) else { continue }
                s += log(d.good[i]) - log(d.bad[i])
            }
            return s
        }
    }

    /// l and g as the settings ask: per dimension, or joint.
    static func density(_ scored: [(Trial, Double)], _ settings: Settings, _ space: SearchSpace) -> (any Density)? {
        if settings.multivariate { return jointModel(scored, settings, space) }
        return model(scored, settings, space)
    }

    /// The scored trials split into the best `gamma` share (1 to 25 of them) and the rest;
    /// nil when nothing is left for the rest.
    static func split(_ scored: [(Trial, Double)], _ settings: Settings) -> (good: ArraySlice<Trial>, bad: ArraySlice<Trial>)? {
        // Best first; ties: earlier first, so the split does not depend on sort stability.
        let ranked = scored.enumerated().sorted { ($0.element.1, -$0.offset) > ($1.element.1, -$1.offset) }.map(\.element.0)
        let nGood = max(1, min(25, Int((settings.gamma * Double(ranked.count)).rounded(.up))))
        guard ranked.count > nGood else { return nil }
        return (ranked.prefix(nGood), ranked.dropFirst(nGood))
    }

    /// Splits the scored trials and counts each dimension's values in both parts.
    static func model(_ scored: [(Trial, Double)], _ settings: Settings, _ space: SearchSpace) -> Model? {
        guard let (good, bad) = split(scored, settings) else { return nil }
        var dims: [(Parameter, [Double], [Double])] = []
        for p in space.parameters where !p.isFixed {
            func distribution(_ trials: ArraySlice<Trial>) -> [Double] {
                var counts = [Double](repeating: settings.prior / Double(p.choices.count), count: p.choices.count)
                for t in trials { if let v = t.candidate.choices[p.name], let i = p.index(of: v) { counts[i] += 1 } }
                let total = counts.reduce(0, +)
                return counts.map { $0 / total }
            }
            dims.append((p, distribution(good), distribution(bad)))
        }
        return Model(dimensions: dims)
    }
}

extension TPE {
    /// The multivariate l and g: mixtures, with equal weights, of one product kernel per
    /// trial and a uniform prior component. A trial's kernel in a dimension puts
    /// (1 + δ) / (1 + kδ) on its value and δ / (1 + kδ) on each other of the k values,
    /// δ = prior / n (n trials in the mixture), as Optuna's categorical kernel; a dimension
    /// the trial does not use is uniform in its kernel.
    struct JointModel: Density {
        var parameters: [Parameter]
        /// Value index per dimension of each trial (nil: the trial does not use it).
        var good: [[Int?]]
        var bad: [[Int?]]
        var prior: Double

        func draw(_ space: SearchSpace, _ rng: inout SeededGenerator) -> Candidate {
            let component = rng.index(below: good.count + 1)  // the last is the prior
            let delta = prior / Double(good.count)
            var partial: [String: ChoiceValue] = [:]
            for (d, p) in parameters.enumerated() {
                let k = p.choices.count
                var pick = rng.index(below: k)
                if component < good.count, let v = good[component][d] {
                    // Its value with probability (1 + δ) / (1 + kδ), else uniform over all k.
                    if rng.unit() < 1 / (1 + Double(k) * delta) { pick = v }
                }
                partial[p.name] = p.choices[pick]
            }
            return space.candidate(from: partial, using: &rng)
        }

        /// log of the mixture's density at the candidate's active values.
        static func logDensity(_ x: [Int?], _ trials: [[Int?]], _ parameters: [Parameter], prior: Double) -> Double {
            let delta = prior / Double(max(1, trials.count))
            var logs: [Double] = []
            logs.reserveCapacity(trials.count + 1)
            var uniform = 0.0
            for (d, p) in parameters.enumerated() where x[d] != nil { uniform -= log(Double(p.choices.count)) }
            for t in trials {
                var s = 0.0
                for (d, p) in parameters.enumerated() {
                    guard let v = x[d] else { continue }
                    let k = Double(p.choices.count)
                    if let o = t[d] { s += log((o == v ? 1 + delta : delta) / (1 + k * delta)) } else { s -= log(k) }
                }
                logs.append(s)
            }
            logs.append(uniform)
            let m = logs.max()!
            return m + log(logs.reduce(0) { $0 + exp($1 - m) }) - log(Double(logs.count))
        }

        func score(_ c: Candidate) -> Double {
            let x = Self.indices(c, parameters)
            return Self.logDensity(x, good, parameters, prior: prior) - Self.logDensity(x, bad, parameters, prior: prior)
        }

        static func indices(_ c: Candidate, _ parameters: [Parameter]) -> [Int?] {
            parameters.map { p in c.choices[p.name].flatMap { p.index(of: $0) } }
        }
    }

    static func jointModel(_ scored: [(Trial, Double)], _ settings: Settings, _ space: SearchSpace) -> JointModel? {
        guard let (good, bad) = split(scored, settings) else { return nil }
        let parameters = space.parameters.filter { !$0.isFixed }
        return JointModel(parameters: parameters, good: good.map { JointModel.indices($0.candidate, parameters) },
                          bad: bad.map { JointModel.indices($0.candidate, parameters) }, prior: settings.prior)
    }
}
