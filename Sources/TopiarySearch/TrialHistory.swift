import TopiaryCore

/// Every trial of a search in the order it was suggested, with what is known of each.
///
/// A strategy's decisions are a function of its seed, its settings and this history alone,
/// so a strategy rebuilt from the same history continues exactly as the one that wrote it.
public struct TrialHistory: Sendable {
    public private(set) var trials: [Trial] = []
    private var index: [TrialKey: Int] = [:]
    /// Candidate ids with any trial, at any fidelity.
    public private(set) var candidateIDs: Set<String> = []
    /// The same candidates as values: a drawn candidate is checked by its choices, without
    /// computing its id (a hash of its JSON) when it is not fresh.
    private var candidates: Set<Candidate> = []

    public init() {}

    public var count: Int { trials.count }

    /// Whether a candidate already has a trial (pending or finished) at this fidelity.
    public func contains(_ key: TrialKey) -> Bool { index[key] != nil }

    /// Whether a candidate has a trial at any fidelity.
    public func containsCandidate(_ id: String) -> Bool { candidateIDs.contains(id) }

    /// Whether a candidate has a trial at any fidelity (by value).
    public func containsCandidate(_ c: Candidate) -> Bool { candidates.contains(c) }

    public subscript(key: TrialKey) -> Trial? { index[key].map { trials[$0] } }

    /// Position of a trial in suggestion order.
    public func position(of key: TrialKey) -> Int? { index[key] }

    /// Adds a suggested trial. Throws when the key is already there.
    mutating func append(_ trial: Trial) throws(StrategyError) {
        let key = trial.key
        guard index[key] == nil else { throw .duplicateTrial(key) }
        index[key] = trials.count
        candidateIDs.insert(key.candidateID)
        candidates.insert(trial.candidate)
        trials.append(trial)
    }

    mutating func setStatus(_ key: TrialKey, _ status: TrialStatus) throws(StrategyError) {
        guard let i = index[key] else { throw .unknownTrial(key) }
        trials[i].status = status
    }

    mutating func addReport(_ key: TrialKey, _ report: ProgressReport) throws(StrategyError) {
        guard let i = index[key] else { throw .unknownTrial(key) }
        trials[i].reports.append(report)
    }

    /// Completed trials, in suggestion order.
    public var completed: [Trial] { trials.filter { $0.status.metrics != nil } }
}
