import TopiaryCore

/// The bookkeeping every strategy shares: the history, the per-suggestion generator, the
/// checks that keep suggestions fresh and admissible, and the figures known before training.
struct StrategyCore: Sendable {
    let name: String
    let problem: SearchProblem
    var history = TrialHistory()
    /// Predicted figures by candidate id (the predictor builds a graph: worth keeping).
    private(set) var predictions: [String: Metrics] = [:]

    init(name: String, problem: SearchProblem) {
        self.name = name
        self.problem = problem
    }

    /// The generator for the suggestion at position `n` of the history.
    func generator(at n: Int) -> SeededGenerator {
        var g = SeededGenerator(seed: problem.seed ^ 0x5EA2_C4ED_0000_0000)
        for _ in 0..<2 { _ = g.next() }
        return SeededGenerator(seed: g.next() &+ UInt64(n) &* 0xD1B5_4A32_D192_ED03)
    }

    /// Runs `propose` once per wanted suggestion, recording each as pending. A proposal
    /// that is already in the history or breaks the constraint ends the batch (proposers
    /// check both; this is the last line of defence).
    mutating func suggest(count: Int, _ propose: (StrategyCore, inout SeededGenerator) -> Suggestion?) -> [Suggestion] {
        var out: [Suggestion] = []
        for _ in 0..<max(0, count) {
            var rng = generator(at: history.count)
            guard let s = propose(self, &rng), isFresh(s.candidate, fidelity: s.fidelity) else { break }
            try? history.append(Trial(candidate: s.candidate, fidelity: s.fidelity))
            out.append(s)
        }
        return out
    }

    /// Whether a candidate may be suggested at a fidelity: in the space, admitted by the
    /// constraint, and not yet tried there.
    func isFresh(_ c: Candidate, fidelity: Double) -> Bool {
        !history.contains(TrialKey(candidateID: c.id, fidelity: fidelity)) && problem.space.contains(c) && problem.admits(c)
    }

    /// A uniformly drawn candidate that has no trial yet at any fidelity and passes the
    /// constraint; nil after `tries` draws without one.
    func randomCandidate(_ rng: inout SeededGenerator, tries: Int = 10_000) -> Candidate? {
        for _ in 0..<tries {
            let c = problem.space.sample(using: &rng)
            // By value first: a repeat is turned away without hashing its JSON for an id.
            if !history.containsCandidate(c) && !history.containsCandidate(c.id) && problem.admits(c) { return c }
        }
        return nil
    }

    /// Predicted figures of a candidate (empty without a predictor).
    func predicted(_ c: Candidate) -> Metrics {
        if let m = predictions[c.id] { return m }
        return problem.predictor?(c) ?? [:]
    }

    /// Remembers the predictions of candidates in the history (called after changes).
    mutating func cachePredictions(for candidates: [Candidate]) {
        guard problem.predictor != nil else { return }
        for c in candidates where predictions[c.id] == nil { predictions[c.id] = problem.predictor?(c) }
    }

    /// The value of a metric for a trial: reported, else predicted.
    func value(_ metric: String, of trial: Trial) -> Double? {
        trial.status.metrics?[metric] ?? predicted(trial.candidate)[metric]
    }

    mutating func restore(_ trials: [Trial]) throws(StrategyError) {
        for (i, t) in trials.enumerated() {
            guard problem.space.contains(t.candidate) else { throw .foreignCandidate(position: i, candidateID: t.candidate.id) }
            try history.append(t)
        }
        cachePredictions(for: trials.map(\.candidate))
    }

    mutating func tell(_ key: TrialKey, _ status: TrialStatus) throws(StrategyError) {
        try history.setStatus(key, status)
        if let c = history[key]?.candidate { cachePredictions(for: [c]) }
    }
}

/// A strategy built on `StrategyCore`: telling and recording reports go to the core, and
/// it never stops a trial early unless it says otherwise (ASHA does).
protocol CoreBackedStrategy: SearchStrategy {
    var core: StrategyCore { get set }
}

extension CoreBackedStrategy {
    public mutating func tell(_ key: TrialKey, _ status: TrialStatus) throws(StrategyError) { try core.tell(key, status) }

    public mutating func report(_ key: TrialKey, _ report: ProgressReport) throws(StrategyError) -> Bool {
        try core.history.addReport(key, report)
        return false
    }

    public func trialsToStop() -> [TrialKey] { [] }
}
