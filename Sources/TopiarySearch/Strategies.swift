import TopiaryCore

/// Creates strategies by name, the way the daemon and the CLI name them.
public enum Strategies {
    /// The names `make` accepts.
    public static let names = ["random", "evolution", "tpe", "bo", "nsga2", "asha"]

    /// What `auto` picks, and why: NSGA-II for two objectives or more; random when the budget
    /// is too small for a model (under twice the random start); else Bayesian optimization,
    /// ahead of Optuna's TPE in 48 of 52 (benchmark, budget) pairs of the strategy suite with
    /// each benchmark left out in turn (`topiary-bench suite`, docs/STRATEGIES.md) — up to
    /// `boBudgetLimit` trials, where its suggestions (about 0.2 s each at 300 trials and
    /// more) still cost little against training; TPE up to `tpeBudgetLimit`.
    public static func auto(objectives: Int, budget: Int) -> (name: String, why: String) {
        if objectives >= 2 { return ("nsga2", "\(objectives) objectives: NSGA-II keeps the trade-off front") }
        if budget < 20 { return ("random", "a budget of \(budget) is too small to fit a model (bo and TPE start with 10 random trials)") }
        if budget <= boBudgetLimit { return ("bo", "one objective and a budget of \(budget): Bayesian optimization") }
        // TPE refits on every completed trial at each draw: its cost grows with the history,
        // which matters only for thousands of cheap trials (tables, measurements).
        if budget > tpeBudgetLimit {
            return ("random", "a budget of \(budget): more than \(tpeBudgetLimit) trials, where TPE's refits cost more than they gain; name --strategy tpe or evolution to override")
        }
        return ("tpe", "one objective and a budget of \(budget): TPE (bo's suggestions cost more above \(boBudgetLimit) trials; name --strategy bo to override)")
    }

    /// Up to this many trials `auto` picks Bayesian optimization for one objective.
    public static let boBudgetLimit = 500

    /// Above this many trials `auto` does not pick TPE.
    public static let tpeBudgetLimit = 2_000

    /// A strategy for `problem`, configured by `options` and restored from `history` (the
    /// search's trials in suggestion order; empty for a new search). The restored strategy
    /// continues exactly as the one that produced the history would have.
    ///
    /// Throws for an unknown name, an unknown or invalid option, a strategy that cannot serve
    /// the problem (NSGA-II needs two objectives or more), or a history that does not fit
    /// (a candidate outside the space, a (candidate, fidelity) listed twice).
    public static func make(_ name: String, options: StrategyOptions = StrategyOptions(), problem: SearchProblem,
                            history: [Trial] = []) throws(StrategyError) -> any SearchStrategy {
        switch name {
        case "random":
            var s = RandomSearch(problem: problem, settings: try .init(options: options, problem: problem))
            try s.restore(history)
            return s
        case "evolution", "regularized-evolution":
            var s = RegularizedEvolution(problem: problem, settings: try .init(options: options, problem: problem))
            try s.restore(history)
            return s
        case "tpe":
            var s = TPE(problem: problem, settings: try .init(options: options, problem: problem))
            try s.restore(history)
            return s
        case "bo", "bayesian-optimization":
            var s = BayesianOptimization(problem: problem, settings: try .init(options: options, problem: problem))
            try s.restore(history)
            return s
        case "nsga2", "nsga-ii":
            var s = try NSGA2(problem: problem, settings: try .init(options: options, problem: problem))
            try s.restore(history)
            return s
        case "asha":
            var s = try ASHA(problem: problem, settings: try .init(options: options, problem: problem))
            try s.restore(history)
            return s
        default:
            throw .unknownStrategy(name)
        }
    }
}
