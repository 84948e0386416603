import TopiaryCore

/// Uniform random sampling of fresh, admissible candidates at the problem's fidelity: the
/// baseline every other strategy must beat, and the right choice for a first look at a
/// new space or a very small budget.
///
/// Options: the latency reward (`reward_target`, `reward_metric`, `reward_alpha`,
/// `reward_beta`; see `Fitness`), which changes only which trial is named best.
public struct RandomSearch: CoreBackedStrategy {
    public struct Settings: Sendable, Equatable {
        var fitness: Fitness

        public init(options: StrategyOptions, problem: SearchProblem) throws(StrategyError) {
            var r = StrategyOptions.Reader("random", options)
            fitness = try Fitness(objective: problem.primary, reading: &r)
            try r.finish()
        }
    }

    var core: StrategyCore
    public let settings: Settings

    public init(problem: SearchProblem, settings: Settings) {
        core = StrategyCore(name: "random", problem: problem)
        self.settings = settings
    }

    public var name: String { core.name }
    public var problem: SearchProblem { core.problem }
    public var history: TrialHistory { core.history }
    public var learnsFromResults: Bool { false }

    public mutating func suggest(count: Int) -> [Suggestion] {
        core.suggest(count: count) { core, rng in
            core.randomCandidate(&rng).map { Suggestion(candidate: $0, fidelity: core.problem.fidelity) }
        }
    }

    public func recommendation(count: Int) -> [Trial] {
        rankByFitness(core.history.trials, settings.fitness, core, count: count)
    }

    mutating func restore(_ trials: [Trial]) throws(StrategyError) { try core.restore(trials) }
}

/// Completed trials by fitness, best first (ties: earlier first).
func rankByFitness(_ trials: [Trial], _ fitness: Fitness, _ core: StrategyCore, count: Int) -> [Trial] {
    let scored = trials.enumerated().compactMap { (i, t) in fitness.score(t, core).map { (t, $0, i) } }
    return scored.sorted { ($0.1, -$0.2) > ($1.1, -$1.2) }.prefix(max(0, count)).map(\.0)
}
