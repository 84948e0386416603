import TopiaryCore

/// Asynchronous successive halving (ASHA, Li et al. 2020) over fidelity (epochs or a data
/// fraction), in one of two modes:
///
/// - `promote` (default): new candidates start at the lowest rung; when a slot frees, the
///   best `1/eta` of the completed trials of a rung that have not yet moved up are promoted
///   to the next rung (a new trial of the same candidate at the higher fidelity), highest
///   rung first; otherwise a new random candidate starts at the bottom. No generation
///   barrier: a trial is promoted as soon as it ranks in the top `1/eta` of what its rung
///   has seen so far.
/// - `stop`: every trial is started at the full fidelity and reports progress; when a
///   report first reaches a rung, the trial goes on only if its value ranks in the top
///   `1/eta` of all values reported at that rung (the first to arrive always goes on);
///   `report` answers true for the others, and the daemon cancels them.
///
/// Rungs are `min_fidelity × eta^k` below the problem's fidelity, which is the last rung.
/// Ranking uses the primary objective (with the latency reward when set; see `Fitness`).
///
/// New candidates are random (`sampler=random`) or, as BOHB (Falkner et al. 2018) does,
/// chosen by a model of the values at the highest rung with at least the model's `startup`
/// (10) results (a stopped trial counts at the rungs it reached): TPE's (`sampler=tpe`: its
/// `candidates` draws from l(x) scored by l(x)/g(x)) or `bo`'s Gaussian process
/// (`sampler=bo`: the largest expected improvement over its pool; trials running at the
/// fidelity new candidates start at count at the model's belief). A `random_fraction` of
/// new candidates stays uniformly random so the model never starves the search of coverage.
///
/// Options: `eta` (3), `min_fidelity` (the problem's fidelity / eta³), `mode`
/// (`promote` or `stop`), `metric` (the reported metric to rank by, `NAME[:max|min]`;
/// default the primary objective), `sampler` (random, tpe or bo), `random_fraction` (1/3),
/// and the latency reward options.
public struct ASHA: CoreBackedStrategy {
    public struct Settings: Sendable, Equatable {
        public var eta: Int
        public var minFidelity: Double
        public var stopMode: Bool
        public var randomFraction: Double
        var fitness: Fitness
        /// The model's settings (TPE's or bo's defaults) when `sampler=tpe` or `bo`; both nil
        /// for random sampling.
        var tpe: TPE.Settings?
        var bo: BayesianOptimization.Settings?

        public init(options: StrategyOptions, problem: SearchProblem) throws(StrategyError) {
            var r = StrategyOptions.Reader("asha", options)
            eta = try r.int("eta", default: 3, in: 2...100)
            let top = problem.fidelity
            minFidelity = try r.double("min_fidelity", default: top / Double(eta * eta * eta), in: 1e-12...Double.greatestFiniteMagnitude)!
            stopMode = try r.choice("mode", default: "promote", of: ["promote", "stop"]) == "stop"
            var objective = problem.primary
            if let m = r.string("metric") {
                do { objective = try SearchObjective.parse(m) } catch {
                    throw .invalidOption(strategy: "asha", option: "metric", value: m, expected: "METRIC, METRIC:max or METRIC:min (e.g. accuracy, val_loss:min)")
                }
            }
            let sampler = try r.choice("sampler", default: "random", of: ["random", "tpe", "bo"])
            randomFraction = try r.double("random_fraction", default: 1.0 / 3, in: 0...1)!
            fitness = try Fitness(objective: objective, reading: &r)
            try r.finish()
            if sampler == "tpe" {
                var model = try TPE.Settings(options: StrategyOptions(), problem: problem)
                model.fitness = fitness
                tpe = model
            } else if sampler == "bo" {
                var model = try BayesianOptimization.Settings(options: StrategyOptions(), problem: problem)
                model.fitness = fitness
                bo = model
            }
            guard minFidelity <= top else {
                throw .invalidOption(strategy: "asha", option: "min_fidelity", value: r.options["min_fidelity"] ?? "",
                                     expected: "at most the search's fidelity \(ChoiceValue.formatDouble(top))")
            }
        }
    }

    var core: StrategyCore
    public let settings: Settings
    /// Fidelities of the rungs, lowest first; the last is the problem's fidelity.
    public let rungs: [Double]

    public init(problem: SearchProblem, settings: Settings) throws(StrategyError) {
        core = StrategyCore(name: "asha", problem: problem)
        self.settings = settings
        var r: [Double] = []
        var f = settings.minFidelity
        while f < problem.fidelity * (1 - 1e-9) && r.count < 64 {
            r.append(f)
            f *= Double(settings.eta)
        }
        r.append(problem.fidelity)
        rungs = r
    }

    public var name: String { core.name }
    public var problem: SearchProblem { core.problem }
    public var history: TrialHistory { core.history }

    public mutating func suggest(count: Int) -> [Suggestion] {
        let s = settings
        let rungs = rungs
        // One model per call, as TPE and bo (no result arrives within a batch).
        let tpeModel = s.tpe.flatMap { m in valuesOfHighestRung(atLeast: m.startup).flatMap { TPE.model($0, m, core.problem.space) } }
        let dims = core.problem.space.dimensions
        let gpFit = s.bo.flatMap { m in valuesOfHighestRung(atLeast: m.startup).flatMap { BayesianOptimization.fit($0, m, dims) } }
        return core.suggest(count: count) { core, rng in
            if !s.stopMode, let p = Self.promotion(core, s, rungs) { return p }
            let f = s.stopMode ? core.problem.fidelity : rungs[0]
            if (tpeModel != nil || gpFit != nil) && !rng.chance(s.randomFraction) {
                if let model = tpeModel, let tpe = s.tpe, let c = TPE.bestDraw(model, tpe.candidates, core, fidelity: f, &rng) {
                    return Suggestion(candidate: c, fidelity: f)
                }
                if let fit = gpFit, let bo = s.bo {
                    let gp = BayesianOptimization.withPending(fit, BayesianOptimization.pending(core, fidelity: f), dims)
                    if let c = BayesianOptimization.bestOfPool(gp, fit, bo, core, fidelity: f, &rng) {
                        return Suggestion(candidate: c, fidelity: f)
                    }
                }
            }
            return core.randomCandidate(&rng).map { Suggestion(candidate: $0, fidelity: f) }
        }
    }

    /// What BOHB's model is fitted to: the trials and their values at the highest rung that
    /// has at least `count` of them (nil when none has).
    func valuesOfHighestRung(atLeast count: Int) -> [(Trial, Double)]? {
        for k in rungs.indices.reversed() {
            let scored: [(Trial, Double)] = core.history.trials.compactMap { t in
                if k == rungs.count - 1 || !settings.stopMode {
                    guard t.fidelity == rungs[k] else { return nil }
                    return settings.fitness.score(t, core).map { (t, $0) }
                }
                return value(t, rung: k).map { (t, $0) }
            }
            if scored.count >= count { return scored }
        }
        return nil
    }

    /// The next promotion, highest rung first: a trial in the top 1/eta of its rung's
    /// completed trials with no trial yet at the next rung.
    static func promotion(_ core: StrategyCore, _ s: Settings, _ rungs: [Double]) -> Suggestion? {
        for k in stride(from: rungs.count - 2, through: 0, by: -1) {
            let ranked = rankByFitness(core.history.trials.filter { $0.fidelity == rungs[k] }, s.fitness, core, count: Int.max)
            for t in ranked.prefix(ranked.count / s.eta) {
                let next = TrialKey(candidateID: t.key.candidateID, fidelity: rungs[k + 1])
                if !core.history.contains(next) && core.problem.admits(t.candidate) {
                    return Suggestion(candidate: t.candidate, fidelity: rungs[k + 1], promotedFrom: t.key)
                }
            }
        }
        return nil
    }

    public mutating func report(_ key: TrialKey, _ report: ProgressReport) throws(StrategyError) -> Bool {
        guard let before = core.history[key] else { throw .unknownTrial(key) }
        try core.history.addReport(key, report)
        guard settings.stopMode, before.status.isPending else { return false }
        let reached = rungReached(before.reports)
        guard let k = rungReached(before.reports + [report]), k != reached else { return false }
        return !promotable(key, rung: k)
    }

    /// The highest rung below the last that reports up to `step` have reached.
    func rungReached(_ reports: [ProgressReport]) -> Int? {
        guard let step = reports.map(\.step).max() else { return nil }
        return rungs.dropLast().lastIndex { $0 <= step * (1 + 1e-9) }
    }

    /// A trial's value at a rung: the first report at or past it.
    func value(_ trial: Trial, rung k: Int) -> Double? {
        guard let r = trial.reports.first(where: { $0.step >= rungs[k] * (1 - 1e-9) }),
              let v = r.metrics[settings.fitness.objective.metric] else { return nil }
        let figure = settings.fitness.rewardTarget == nil ? nil : (r.metrics[settings.fitness.rewardMetric] ?? core.predicted(trial.candidate)[settings.fitness.rewardMetric])
        return settings.fitness.score(v, figure: figure)
    }

    /// Whether a trial ranks in the top 1/eta of the values reported at rung k (at least one goes on).
    func promotable(_ key: TrialKey, rung k: Int) -> Bool {
        guard let mine = core.history[key].flatMap({ value($0, rung: k) }) else { return true }
        let values = core.history.trials.compactMap { value($0, rung: k) }
        let better = values.filter { $0 > mine }.count
        return better < max(1, values.count / settings.eta)
    }

    public func trialsToStop() -> [TrialKey] {
        guard settings.stopMode else { return [] }
        return core.history.trials.compactMap { t in
            guard t.status.isPending, let k = rungReached(t.reports) else { return nil }
            return promotable(t.key, rung: k) ? nil : t.key
        }
    }

    /// Completed trials of the highest rung that has any, best first (then lower rungs).
    public func recommendation(count: Int) -> [Trial] {
        var out: [Trial] = []
        for f in rungs.reversed() where out.count < count {
            out += rankByFitness(core.history.trials.filter { $0.fidelity == f }, settings.fitness, core, count: count - out.count)
        }
        return out
    }

    mutating func restore(_ trials: [Trial]) throws(StrategyError) { try core.restore(trials) }
}
