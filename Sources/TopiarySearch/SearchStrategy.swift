import TopiaryCore

/// A search strategy behind one ask/tell interface, driven asynchronously: the daemon asks
/// for a suggestion whenever a worker slot frees up (no generation barrier), tells the
/// strategy each final result and each intermediate report, and cancels the trials the
/// strategy says to stop.
///
/// Every decision is a function of the problem (space, seed, objectives, constraint), the
/// settings and the history alone: a strategy created from a search's stored history with
/// `Strategies.make(…, history:)` suggests exactly what the uninterrupted strategy would
/// have suggested next. The k-th suggestion draws its randomness from a generator seeded by
/// (seed, k), so `suggest(count: 3)` equals three calls of `suggest(count: 1)`.
///
/// Guarantees for every strategy: suggestions lie in the space, pass the problem's
/// constraint, and never repeat a (candidate, fidelity) pair already in the history,
/// whether finished, failed, stopped or pending.
public protocol SearchStrategy: Sendable {
    /// The strategy's name as `Strategies.make` knows it.
    var name: String { get }
    var problem: SearchProblem { get }
    /// Every trial suggested so far (or restored), with what is known of each.
    var history: TrialHistory { get }

    /// Up to `count` new trials, each recorded as pending. Fewer (possibly none) when no
    /// admissible candidate is left to suggest.
    mutating func suggest(count: Int) -> [Suggestion]

    /// The end of a trial: `.completed(metrics)`, `.failed` or `.stopped`.
    mutating func tell(_ key: TrialKey, _ status: TrialStatus) throws(StrategyError)

    /// An intermediate report of a running trial. Returns true when the trial should be
    /// stopped early (ASHA in `stop` mode); the daemon then cancels it and tells `.stopped`.
    mutating func report(_ key: TrialKey, _ report: ProgressReport) throws(StrategyError) -> Bool

    /// Pending trials that should be stopped now given everything known; call it after a
    /// restart to catch up on decisions missed while the daemon was down.
    func trialsToStop() -> [TrialKey]

    /// The strategy's answer so far, best first: for one objective, the completed trials
    /// ranked by the strategy's estimate of their quality; for several, the non-dominated
    /// completed trials ordered by the primary objective.
    func recommendation(count: Int) -> [Trial]

    /// Whether what it suggests depends on the results told so far. One that does not
    /// (random sampling) may be asked far ahead at no cost to its quality.
    var learnsFromResults: Bool { get }
}

extension SearchStrategy {
    public var learnsFromResults: Bool { true }

    /// The single best trial so far (see `recommendation(count:)`).
    public var best: Trial? { recommendation(count: 1).first }
}
