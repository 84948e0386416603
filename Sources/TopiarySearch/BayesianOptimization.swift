import TopiaryCore

/// Gaussian-process Bayesian optimization over the space's categorical dimensions.
///
/// After `startup` random trials, a `CategoricalGP` (additive plus neighbourhood kernel,
/// chosen by marginal likelihood) is fitted to the completed trials, and each suggestion is
/// the candidate of a pool with the largest expected improvement over the best fitted
/// value. The pool mixes the global and the local, as SMAC's does: `pool` fresh random
/// candidates, and up to `neighbours` fresh mutants of each of the `parents` trials the
/// model rates best (every one-dimension neighbour of them on a small space).
///
/// Trials still running count as observed at the model's mean for them (the "kriging
/// believer"), so with several workers a batch spreads out instead of suggesting the same
/// neighbourhood again. At most `history_limit` completed trials (the best ones) are fitted,
/// and past `select_on` of them the kernel's hyperparameters are chosen on that many spread
/// evenly over the history (then one fit of all): both bound the cubic cost.
///
/// The answer is noise-aware: completed trials ranked by `(1 - smoothing) × observed +
/// smoothing × the process's posterior mean`, as TPE's and evolution's.
///
/// Options: `startup` (10), `pool` (256), `parents` (5), `neighbours` (24), `smoothing`
/// (1), `history_limit` (300), `select_on` (100; 0: every trial), and the latency reward of
/// `Fitness`. Single objective.
public struct BayesianOptimization: CoreBackedStrategy {
    public struct Settings: Sendable, Equatable {
        var fitness: Fitness
        var startup = 10
        var pool = 256
        var parents = 5
        var neighbours = 24
        var smoothing = 1.0
        var historyLimit = 300
        var selectOn: Int? = 100

        public init(options: StrategyOptions, problem: SearchProblem) throws(StrategyError) {
            var r = StrategyOptions.Reader("bo", options)
            fitness = try Fitness(objective: problem.primary, reading: &r)
            startup = try r.int("startup", default: 10, in: 3...100_000)
            pool = try r.int("pool", default: 256, in: 0...100_000)
            parents = try r.int("parents", default: 5, in: 0...1_000)
            neighbours = try r.int("neighbours", default: 24, in: 1...10_000)
            smoothing = try r.double("smoothing", default: 1, in: 0...1)!
            historyLimit = try r.int("history_limit", default: 300, in: 10...5_000)
            let sel = try r.int("select_on", default: 100, in: 0...5_000)
            selectOn = sel > 0 ? sel : nil
            try r.finish()
            if pool == 0 && parents == 0 {
                throw .invalidOption(strategy: "bo", option: "pool", value: "0",
                                     expected: "a pool of at least 1 when parents=0 (nothing to choose from)")
            }
        }
    }

    var core: StrategyCore
    public let settings: Settings
    let dimensions: [Parameter]

    public init(problem: SearchProblem, settings: Settings) {
        core = StrategyCore(name: "bo", problem: problem)
        self.settings = settings
        dimensions = problem.space.dimensions
    }

    public var name: String { core.name }
    public var problem: SearchProblem { core.problem }
    public var history: TrialHistory { core.history }

    public mutating func suggest(count: Int) -> [Suggestion] {
        let settings = self.settings
        let dims = dimensions
        // One fit of the completed trials per call (no result arrives within a batch);
        // each suggestion adds the pending ones at the fit's belief.
        let fitted = Self.fit(core, settings, dims)
        return core.suggest(count: count) { core, rng in
            let fidelity = core.problem.fidelity
            guard let fitted else { return core.randomCandidate(&rng).map { Suggestion(candidate: $0, fidelity: fidelity) } }
            let gp = Self.withPending(fitted, Self.pending(core, fidelity: fidelity), dims)
            // An exhausted pool (a small space nearly all tried): a fresh random one.
            let c = Self.bestOfPool(gp, fitted, settings, core, fidelity: fidelity, &rng) ?? core.randomCandidate(&rng)
            return c.map { Suggestion(candidate: $0, fidelity: fidelity) }
        }
    }

    /// The candidates of the trials still running (or queued) at a fidelity.
    static func pending(_ core: StrategyCore, fidelity: Double) -> [Candidate] {
        core.history.trials.filter { $0.status.isPending && $0.fidelity == fidelity }.map(\.candidate)
    }

    /// The completed trials at full fidelity with their fitness: the best `history_limit`.
    static func scored(_ core: StrategyCore, _ settings: Settings) -> [(trial: Trial, y: Double, order: Int)] {
        let s = core.history.trials.enumerated().compactMap { (i, t) in
            t.fidelity == core.problem.fidelity ? settings.fitness.score(t, core).map { (t, $0, i) } : nil
        }
        return best(s, settings.historyLimit) { $0.1 }
    }

    /// The `limit` items of largest value (ties: the earlier), in their order.
    static func best<T>(_ items: [T], _ limit: Int, value: (T) -> Double) -> [T] {
        guard items.count > limit else { return items }
        return items.indices.sorted { (value(items[$0]), -$0) > (value(items[$1]), -$1) }.prefix(limit).sorted().map { items[$0] }
    }

    /// The process fitted to the completed trials, with what it was fitted to; nil during
    /// the random start.
    struct Fit {
        var gp: CategoricalGP
        var candidates: [Candidate]
        var y: [Double]
    }

    static func fit(_ core: StrategyCore, _ settings: Settings, _ dims: [Parameter]) -> Fit? {
        let s = scored(core, settings)
        return fit(s.map { ($0.trial, $0.y) }, settings, dims)
    }

    /// The process fitted to the given trials and values (another strategy's, e.g. ASHA's at
    /// one rung; the best `history_limit` of them); nil with fewer than `startup` of them.
    static func fit(_ scored: [(Trial, Double)], _ settings: Settings, _ dims: [Parameter]) -> Fit? {
        guard scored.count >= settings.startup else { return nil }
        let kept = best(scored, settings.historyLimit) { $0.1 }
        let candidates = kept.map(\.0.candidate), y = kept.map(\.1)
        return CategoricalGP(dimensions: dims, candidates: candidates, y: y, selectOn: settings.selectOn).map { Fit(gp: $0, candidates: candidates, y: y) }
    }

    /// The fit redone (same hyperparameters) with every pending trial observed at its
    /// predicted mean, so running trials lower the uncertainty around them.
    static func withPending(_ fit: Fit, _ pending: [Candidate], _ dims: [Parameter]) -> CategoricalGP {
        guard !pending.isEmpty else { return fit.gp }
        let beliefs = pending.map { fit.gp.predict($0).mean }
        return CategoricalGP(dimensions: dims, candidates: fit.candidates + pending, y: fit.y + beliefs, hyper: fit.gp.hyper) ?? fit.gp
    }

    /// Of the pool (neighbours of the best-rated trials, then random candidates), the fresh
    /// candidate with the largest expected improvement over the best fitted value; nil when
    /// the pool has none.
    static func bestOfPool(_ gp: CategoricalGP, _ fit: Fit, _ settings: Settings, _ core: StrategyCore,
                           fidelity: Double, _ rng: inout SeededGenerator) -> Candidate? {
        let means = fit.gp.fittedMeans
        guard let incumbent = means.max() else { return nil }
        var seen: Set<[Int32]> = []
        var pool: [(candidate: Candidate, ei: Double)] = []
        func consider(_ c: Candidate) {
            let code = CategoricalGP.code(c, gp.dimensions)
            guard seen.insert(code).inserted else { return }
            let p = gp.predict(code: code)
            pool.append((c, expectedImprovement(mean: p.mean, sd: p.sd, best: incumbent)))
        }
        let parents = means.indices.sorted { (means[$0], -$0) > (means[$1], -$1) }.prefix(settings.parents)
        for i in parents {
            for m in freshMutants(of: fit.candidates[i], count: settings.neighbours, core, &rng) { consider(m) }
        }
        // Fresh by value (as freshMutants; the pick is checked by id below); 100 taken draws
        // in a row end the pool (a space nearly all tried).
        var drawn = 0, misses = 0
        while drawn < settings.pool && misses < 100 {
            let c = core.problem.space.sample(using: &rng)
            guard !core.history.containsCandidate(c) && core.problem.admits(c) else { misses += 1; continue }
            misses = 0
            drawn += 1
            consider(c)
        }
        // Best first; ties: the earlier in the pool.
        let order = pool.indices.sorted { (pool[$0].ei, -$0) > (pool[$1].ei, -$1) }
        return order.lazy.map { pool[$0].candidate }.first { core.isFresh($0, fidelity: fidelity) && !core.history.containsCandidate($0.id) }
    }

    public func recommendation(count: Int) -> [Trial] {
        let s = Self.scored(core, settings)
        guard settings.smoothing > 0, s.count >= 3,
              let gp = CategoricalGP(dimensions: dimensions, candidates: s.map(\.trial.candidate), y: s.map(\.y), selectOn: settings.selectOn) else {
            return rankByFitness(core.history.trials, settings.fitness, core, count: count)
        }
        let est = zip(s, gp.fittedMeans).map { (e, m) in (e.trial, (1 - settings.smoothing) * e.y + settings.smoothing * m, e.order) }
        return est.sorted { ($0.1, -$0.2) > ($1.1, -$1.2) }.prefix(max(0, count)).map(\.0)
    }

    mutating func restore(_ trials: [Trial]) throws(StrategyError) { try core.restore(trials) }
}
