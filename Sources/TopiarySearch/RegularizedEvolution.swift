import TopiaryCore

/// Regularized (aging) evolution, Real et al. 2019, run asynchronously and assisted by a
/// cheap surrogate.
///
/// The population is the `population` most recently suggested trials that have completed.
/// For each suggestion, `sample` members are drawn at random and the fittest becomes the
/// parent; its child is a mutation (one dimension changed). Old members leave by age, not by
/// fitness, which keeps the search from clinging to a lucky evaluation. The first `initial`
/// suggestions are random.
///
/// With `candidates` > 1, the parent gets that many distinct fresh mutants and the one a
/// ridge-regression surrogate fitted to all completed trials rates highest is suggested
/// (`candidates=1` is the plain algorithm). With probability `exploit` the parent is instead
/// the current best (by the ridge-smoothed estimate), so the neighbourhood of the answer
/// gets evaluated densely.
///
/// Evaluations are noisy, so the recommendation does not trust a single lucky one: it ranks
/// completed trials by `(1 - smoothing) × observed + smoothing × estimate`, the estimate
/// being what similar candidates scored — the posterior mean of a Gaussian process with a
/// Hamming kernel (`smoother=gp`) or the leave-one-out prediction of the ridge surrogate
/// (`smoother=ridge`); `smoothing=0` ranks by the observation alone.
///
/// Options: `population` (20), `sample` (5), `initial` (min(10, population)), `candidates`
/// (8), `exploit` (0.3), `smoothing` (0.5), `smoother` (gp), and the latency reward
/// (`reward_target`, …; see `Fitness`). `candidates=1,exploit=0,smoothing=0` is plain
/// regularized evolution.
public struct RegularizedEvolution: CoreBackedStrategy {
    public struct Settings: Sendable, Equatable {
        public var population: Int
        public var sample: Int
        public var initial: Int
        public var candidates: Int
        public var smoothing: Double
        public var smoother: String
        public var exploit: Double
        var fitness: Fitness

        public init(options: StrategyOptions, problem: SearchProblem) throws(StrategyError) {
            var r = StrategyOptions.Reader("evolution", options)
            population = try r.int("population", default: 20, in: 2...100_000)
            sample = try r.int("sample", default: min(5, population), in: 1...population)
            initial = try r.int("initial", default: min(10, population), in: 1...population)
            candidates = try r.int("candidates", default: 8, in: 1...1_000)
            smoothing = try r.double("smoothing", default: 0.5, in: 0...1)!
            smoother = try r.choice("smoother", default: "gp", of: ["gp", "ridge"])
            exploit = try r.double("exploit", default: 0.3, in: 0...1)!
            fitness = try Fitness(objective: problem.primary, reading: &r)
            try r.finish()
        }
    }

    var core: StrategyCore
    public let settings: Settings
    let encoding: CandidateEncoding

    public init(problem: SearchProblem, settings: Settings) {
        core = StrategyCore(name: "evolution", problem: problem)
        self.settings = settings
        encoding = CandidateEncoding(problem.space)
    }

    public var name: String { core.name }
    public var problem: SearchProblem { core.problem }
    public var history: TrialHistory { core.history }

    public mutating func suggest(count: Int) -> [Suggestion] {
        let s = settings
        let enc = encoding
        return core.suggest(count: count) { core, rng in
            Self.propose(core, s, enc, &rng).map { Suggestion(candidate: $0, fidelity: core.problem.fidelity) }
        }
    }

    static func propose(_ core: StrategyCore, _ s: Settings, _ enc: CandidateEncoding, _ rng: inout SeededGenerator) -> Candidate? {
        let scored = core.history.trials.compactMap { t in
            t.fidelity == core.problem.fidelity ? s.fitness.score(t, core).map { (t.candidate, $0) } : nil
        }
        guard core.history.count >= s.initial, !scored.isEmpty else { return core.randomCandidate(&rng) }
        let population = scored.suffix(s.population)
        let picks = distinctIndices(s.sample, below: population.count, &rng)
        var parent = picks.map { population[population.startIndex + $0] }.max { $0.1 < $1.1 }!.0
        // One surrogate fit serves both the exploitation step and the screening.
        let needModel = s.candidates > 1 || s.exploit > 0
        let model = needModel ? LinearSurrogate(encoding: enc, candidates: scored.map(\.0), y: scored.map(\.1)) : nil
        if s.exploit > 0 && rng.chance(s.exploit), let model {
            var best = (scored[0].0, -Double.infinity)
            for (c, y) in scored {
                let e = 0.5 * y + 0.5 * model.leaveOneOut(c, observed: y)
                if e > best.1 { best = (c, e) }
            }
            parent = best.0
        }
        let mutants = freshMutants(of: parent, count: s.candidates, core, &rng)
        guard !mutants.isEmpty else { return core.randomCandidate(&rng) }
        guard mutants.count > 1, let model else { return mutants[0] }
        return mutants.max { model.predict($0).mean < model.predict($1).mean }
    }

    public func recommendation(count: Int) -> [Trial] {
        if settings.smoother == "gp" {
            return rankGP(core.history.trials, settings.fitness, settings.smoothing, encoding, core, count: count)
        }
        return rankSmoothed(core.history.trials, settings.fitness, settings.smoothing, encoding, core, count: count)
    }

    mutating func restore(_ trials: [Trial]) throws(StrategyError) { try core.restore(trials) }
}

/// `k` distinct indices below `n` (all of them when `k >= n`), in draw order.
func distinctIndices(_ k: Int, below n: Int, _ rng: inout SeededGenerator) -> [Int] {
    guard k < n else { return Array(0..<n) }
    var pool = Array(0..<n)
    for i in 0..<k {
        let j = i + rng.index(below: n - i)
        pool.swapAt(i, j)
    }
    return Array(pool.prefix(k))
}

/// Up to `count` distinct mutants of `parent` that have no trial yet and pass the
/// constraint. When every neighbour is taken, mutants of mutants are tried.
func freshMutants(of parent: Candidate, count: Int, _ core: StrategyCore, _ rng: inout SeededGenerator) -> [Candidate] {
    var out: [Candidate] = []
    // By value, not by id: an id hashes the candidate's JSON, which costs more than the
    // mutation (the suggestion's own freshness check still goes by id).
    var seen: Set<Candidate> = []
    var frontier = [parent]
    let tries = 20 * count + 20
    var t = 0
    while out.count < count && t < tries {
        t += 1
        let base = frontier[rng.index(below: frontier.count)]
        let m = core.problem.space.mutate(base, using: &rng)
        if seen.contains(m) || m == parent { continue }
        if core.history.containsCandidate(m) || !core.problem.admits(m) {
            // A taken neighbour: step through it when the near ones run out.
            if t > 2 * count && frontier.count < 64 { frontier.append(m) }
            continue
        }
        seen.insert(m)
        out.append(m)
    }
    return out
}

/// Completed trials ranked by fitness blended with the surrogate's leave-one-out
/// prediction (see `RegularizedEvolution`), best first.
func rankSmoothed(_ trials: [Trial], _ fitness: Fitness, _ smoothing: Double, _ enc: CandidateEncoding,
                  _ core: StrategyCore, count: Int) -> [Trial] {
    let scored = trials.enumerated().compactMap { (i, t) in fitness.score(t, core).map { (t, $0, i) } }
    guard smoothing > 0, let model = LinearSurrogate(encoding: enc, candidates: scored.map(\.0.candidate), y: scored.map(\.1)) else {
        return rankByFitness(trials, fitness, core, count: count)
    }
    let est = scored.map { ($0.0, (1 - smoothing) * $0.1 + smoothing * model.leaveOneOut($0.0.candidate, observed: $0.1), $0.2) }
    return est.sorted { ($0.1, -$0.2) > ($1.1, -$1.2) }.prefix(max(0, count)).map(\.0)
}

/// Completed trials ranked by fitness blended with a Hamming-kernel GP's posterior mean
/// (the best 400 by fitness take part, to bound the cost), best first.
func rankGP(_ trials: [Trial], _ fitness: Fitness, _ smoothing: Double, _ enc: CandidateEncoding,
            _ core: StrategyCore, count: Int) -> [Trial] {
    var scored = trials.enumerated().compactMap { (i, t) in fitness.score(t, core).map { (t, $0, i) } }
    scored.sort { ($0.1, -$0.2) > ($1.1, -$1.2) }
    scored = Array(scored.prefix(400))
    guard smoothing > 0, let gp = HammingGP(encoding: enc, candidates: scored.map(\.0.candidate), y: scored.map(\.1)) else {
        return rankByFitness(trials, fitness, core, count: count)
    }
    let est = scored.enumerated().map { (k, s) in (s.0, (1 - smoothing) * s.1 + smoothing * gp.smoothed[k], s.2) }
    return est.sorted { ($0.1, -$0.2) > ($1.1, -$1.2) }.prefix(max(0, count)).map(\.0)
}
