import TopiaryCore

/// Creates strategies by name, the way the daemon and the CLI name them.
public enum Strategies {
    /// The names `make` accepts.
    public static let names = ["random", "evolution", "tpe", "nsga2", "asha"]

    /// What `auto` picks, and why: NSGA-II for two objectives or more; random when the budget
    /// is too small for a model (under twice TPE's random start); else TPE, which ranks first
    /// of seven configurations on the strategy suite, leaving each benchmark out in turn
    /// (`topiary-bench suite`, docs/STRATEGIES.md).
    public static func auto(objectives: Int, budget: Int) -> (name: String, why: String) {
        if objectives >= 2 { return ("nsga2", "\(objectives) objectives: NSGA-II keeps the trade-off front") }
        if budget < 20 { return ("random", "a budget of \(budget) is too small to fit a model (TPE starts with 10 random trials)") }
        // TPE refits on every completed trial at each draw: its cost grows with the history,
        // which matters only for thousands of cheap trials (tables, measurements).
        if budget > tpeBudgetLimit {
            return ("random", "a budget of \(budget): more than \(tpeBudgetLimit) trials, where TPE's refits cost more than they gain; name --strategy tpe or evolution to override")
        }
        return ("tpe", "one objective and a budget of \(budget): TPE")
    }

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
