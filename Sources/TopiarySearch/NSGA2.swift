import TopiaryCore

/// NSGA-II (Deb et al. 2002) for two or more objectives, as a steady-state algorithm: no
/// generations, one child per free slot.
///
/// The population is the `population` best completed trials by non-dominated sorting and
/// crowding distance (elitist, as NSGA-II's survivor selection). Each child comes from two
/// parents picked by binary tournaments on (front, crowding distance): uniform crossover with
/// probability `crossover`, then one mutation. With `candidates` > 1, that many distinct
/// fresh children are made and one is suggested by its estimated objectives: with
/// `acquisition=hvi` (the default; two objectives) the one that would add most to the
/// hypervolume of the observed front if its estimates held, reported figures taken
/// optimistically (surrogate mean plus `optimism` standard deviations), as SMS-EMOA and
/// hypervolume-improvement Bayesian optimization rank; otherwise (or to break ties) the one
/// dominated by the fewest population members, then the one farthest from the population in
/// normalized objective space. Estimates use the predictor for figures known before training
/// (MACs, size, predicted latency) and a ridge-regression surrogate for reported ones
/// (accuracy). The first `initial` suggestions are random.
///
/// Options: `population` (20), `initial` (min(10, population)), `candidates` (16),
/// `crossover` (0.5), `acquisition` (hvi | dominance), `optimism` (1). The defaults were
/// chosen by leaving one benchmark out of `topiary-bench pareto-suite` (docs/STRATEGIES.md).
public struct NSGA2: CoreBackedStrategy {
    public struct Settings: Sendable, Equatable {
        public var population: Int
        public var initial: Int
        public var candidates: Int
        public var crossover: Double
        public var hypervolumeAcquisition: Bool
        public var optimism: Double

        public init(options: StrategyOptions, problem: SearchProblem) throws(StrategyError) {
            var r = StrategyOptions.Reader("nsga2", options)
            population = try r.int("population", default: 20, in: 2...100_000)
            initial = try r.int("initial", default: min(10, population), in: 1...population)
            candidates = try r.int("candidates", default: 16, in: 1...1_000)
            crossover = try r.double("crossover", default: 0.5, in: 0...1)!
            hypervolumeAcquisition = try r.choice("acquisition", default: "hvi", of: ["hvi", "dominance"]) == "hvi"
            optimism = try r.double("optimism", default: 1, in: 0...5)!
            try r.finish()
        }
    }

    var core: StrategyCore
    public let settings: Settings
    let encoding: CandidateEncoding

    public init(problem: SearchProblem, settings: Settings) throws(StrategyError) {
        guard problem.objectives.count >= 2 else {
            throw .unsuitable(strategy: "nsga2", reason: "it needs two objectives or more (e.g. accuracy:max and latency_ms:min); for one, use evolution")
        }
        core = StrategyCore(name: "nsga2", problem: problem)
        self.settings = settings
        encoding = CandidateEncoding(problem.space)
    }

    public var name: String { core.name }
    public var problem: SearchProblem { core.problem }
    public var history: TrialHistory { core.history }

    /// The objective vector of a completed trial (larger is better), nil if a value is missing.
    static func gains(_ t: Trial, _ core: StrategyCore) -> [Double]? {
        guard t.status.metrics != nil else { return nil }
        var out: [Double] = []
        for o in core.problem.objectives {
            guard let v = core.value(o.metric, of: t), v.isFinite else { return nil }
            out.append(o.gain(v))
        }
        return out
    }

    public mutating func suggest(count: Int) -> [Suggestion] {
        let s = settings
        let enc = encoding
        return core.suggest(count: count) { core, rng in
            Self.propose(core, s, enc, &rng).map { Suggestion(candidate: $0, fidelity: core.problem.fidelity) }
        }
    }

    static func propose(_ core: StrategyCore, _ s: Settings, _ enc: CandidateEncoding, _ rng: inout SeededGenerator) -> Candidate? {
        let done = core.history.trials.compactMap { t in
            t.fidelity == core.problem.fidelity ? gains(t, core).map { (t.candidate, $0) } : nil
        }
        guard core.history.count >= s.initial, done.count >= 2 else { return core.randomCandidate(&rng) }
        let chosen = Pareto.select(done.map(\.1), count: s.population)
        func tournament(_ rng: inout SeededGenerator) -> Candidate {
            let a = chosen[rng.index(below: chosen.count)]
            let b = chosen[rng.index(below: chosen.count)]
            let win = (a.rank, -a.crowding, a.index) <= (b.rank, -b.crowding, b.index) ? a : b
            return done[win.index].0
        }
        var children: [Candidate] = []
        var ids: Set<String> = []
        var tries = 0
        while children.count < s.candidates && tries < 20 * s.candidates + 20 {
            tries += 1
            let p1 = tournament(&rng)
            var child = p1
            if rng.chance(s.crossover) {
                child = core.problem.space.crossover(p1, tournament(&rng), using: &rng)
            }
            child = core.problem.space.mutate(child, using: &rng)
            let id = child.id
            if ids.contains(id) || core.history.containsCandidate(id) || !core.problem.admits(child) {
                // Near an exhausted region: wander further from the parent.
                if tries > 2 * s.candidates { child = core.problem.space.mutate(child, using: &rng) } else { continue }
                let id2 = child.id
                guard !ids.contains(id2), !core.history.containsCandidate(id2), core.problem.admits(child) else { continue }
                ids.insert(id2)
            } else {
                ids.insert(id)
            }
            children.append(child)
        }
        guard !children.isEmpty else { return core.randomCandidate(&rng) }
        guard children.count > 1 else { return children[0] }
        // Estimate each child's objectives: predicted figures where known, else a surrogate.
        let objectives = core.problem.objectives
        var models: [Int: LinearSurrogate] = [:]
        for (k, o) in objectives.enumerated() where children.contains(where: { core.predicted($0)[o.metric] == nil }) {
            models[k] = LinearSurrogate(encoding: enc, candidates: done.map(\.0), y: done.map { $0.1[k] })
        }
        let hvi = s.hypervolumeAcquisition && objectives.count == 2
        let estimates: [[Double]] = children.map { c in
            let pred = core.predicted(c)
            return objectives.enumerated().map { (k, o) in
                if let v = pred[o.metric] { return o.gain(v) }
                guard let p = models[k]?.predict(c) else { return 0 }
                return hvi ? p.mean + s.optimism * p.sd : p.mean
            }
        }
        let population = chosen.map { done[$0.index].1 }
        var lo = population[0], hi = population[0]
        for p in population + estimates {
            for k in p.indices { lo[k] = min(lo[k], p[k]); hi[k] = max(hi[k], p[k]) }
        }
        func score(_ e: [Double]) -> (Int, Double) {
            let dominated = population.filter { Pareto.dominates($0, e) }.count
            var nearest = Double.infinity
            for p in population {
                var d = 0.0
                for k in e.indices where hi[k] > lo[k] {
                    let x = (e[k] - p[k]) / (hi[k] - lo[k])
                    d += x * x
                }
                nearest = min(nearest, d)
            }
            return (dominated, nearest)
        }
        let scores = estimates.map(score)
        let improvements = hvi ? Self.hypervolumeGains(estimates, front: done.map(\.1)) : [Double](repeating: 0, count: children.count)
        var best = 0
        for i in 1..<children.count {
            if improvements[i] != improvements[best] {
                if improvements[i] > improvements[best] { best = i }
            } else if scores[i].0 < scores[best].0 || (scores[i].0 == scores[best].0 && scores[i].1 > scores[best].1) {
                best = i
            }
        }
        return children[best]
    }

    /// What each two-objective estimate would add to the hypervolume of the observed front, in
    /// objective ranges normalized over the observations and estimates; the reference point lies
    /// a tenth of each range below the worst value, so the front's extremes count too.
    static func hypervolumeGains(_ estimates: [[Double]], front observed: [[Double]]) -> [Double] {
        let front = (Pareto.fronts(observed).first ?? []).map { observed[$0] }
        var lo = [Double.infinity, .infinity], hi = [-Double.infinity, -.infinity]
        for p in observed + estimates { for k in 0..<2 { lo[k] = min(lo[k], p[k]); hi[k] = max(hi[k], p[k]) } }
        func unit(_ p: [Double]) -> (Double, Double) {
            ((p[0] - lo[0]) / max(hi[0] - lo[0], 1e-12), (p[1] - lo[1]) / max(hi[1] - lo[1], 1e-12))
        }
        let points = front.map(unit)
        let reference = (-0.1, -0.1)
        let base = Pareto.hypervolume2D(points, reference: reference)
        return estimates.map { Pareto.hypervolume2D(points + [unit($0)], reference: reference) - base }
    }

    /// The non-dominated completed trials, by the primary objective (best first).
    public func recommendation(count: Int) -> [Trial] {
        let done = core.history.trials.compactMap { t in Self.gains(t, core).map { (t, $0) } }
        guard let first = Pareto.fronts(done.map(\.1)).first else { return [] }
        return first.sorted { (done[$0].1[0], -$0) > (done[$1].1[0], -$1) }.prefix(max(0, count)).map { done[$0].0 }
    }

    mutating func restore(_ trials: [Trial]) throws(StrategyError) { try core.restore(trials) }
}
