import TopiaryCore

/// Names one trial of a search: a candidate at a fidelity. A strategy never suggests the
/// same key twice, so the key identifies the trial for `tell`, `report` and stop decisions;
/// the daemon maps it to its own trial id.
public struct TrialKey: Hashable, Sendable, CustomStringConvertible {
    /// `Candidate.id`.
    public var candidateID: String
    /// How much training the trial gets (epochs, or a data fraction), as the strategy chose it.
    public var fidelity: Double

    public init(candidateID: String, fidelity: Double) {
        self.candidateID = candidateID
        self.fidelity = fidelity
    }

    public var description: String { "\(candidateID)@\(ChoiceValue.formatDouble(fidelity))" }
}

/// What a strategy asks the daemon to run: a candidate at a fidelity.
public struct Suggestion: Sendable {
    public var candidate: Candidate
    public var fidelity: Double
    /// For a promotion (ASHA), the key of the lower-fidelity trial it continues.
    public var promotedFrom: TrialKey?

    public init(candidate: Candidate, fidelity: Double, promotedFrom: TrialKey? = nil) {
        self.candidate = candidate
        self.fidelity = fidelity
        self.promotedFrom = promotedFrom
    }

    public var key: TrialKey { TrialKey(candidateID: candidate.id, fidelity: fidelity) }
}

/// Metrics reported by a trainer, e.g. `accuracy`, `loss`, `latency_ms` (measured).
public typealias Metrics = [String: Double]

/// An intermediate report of a running trial: after `step` units of fidelity (e.g. epochs).
public struct ProgressReport: Sendable, Equatable {
    public var step: Double
    public var metrics: Metrics

    public init(step: Double, metrics: Metrics) {
        self.step = step
        self.metrics = metrics
    }
}

/// Where a trial stands, as far as the strategy is concerned.
public enum TrialStatus: Sendable, Equatable {
    /// Suggested and not finished: queued or running.
    case pending
    /// Finished with final metrics.
    case completed(Metrics)
    /// Failed (no result). Never suggested again at the same fidelity, never selected.
    case failed
    /// Stopped early (pruned or cancelled); its progress reports still count for ASHA.
    case stopped

    public var isPending: Bool { self == .pending }

    /// The final metrics of a completed trial.
    public var metrics: Metrics? {
        if case .completed(let m) = self { return m }
        return nil
    }
}

/// One trial as the strategy sees it: what was suggested, and what came back.
///
/// The daemon rebuilds a search's history from its store as a list of these, in the order
/// the trials were suggested (trial id order), and hands it to `Strategies.make`.
public struct Trial: Sendable {
    public var candidate: Candidate
    public var fidelity: Double
    public var status: TrialStatus
    /// Intermediate reports in the order they arrived.
    public var reports: [ProgressReport]

    public init(candidate: Candidate, fidelity: Double, status: TrialStatus = .pending, reports: [ProgressReport] = []) {
        self.candidate = candidate
        self.fidelity = fidelity
        self.status = status
        self.reports = reports
    }

    public var key: TrialKey { TrialKey(candidateID: candidate.id, fidelity: fidelity) }
}
