import Foundation
import GRDB

/// One evaluation of a candidate for a search at a fidelity (e.g. a number of epochs).
///
/// `attempt` counts dispatches: it starts at 1 and goes up each time the trial is queued
/// again because its worker was lost. Results and progress name the attempt they belong
/// to, so a late report from a lost worker is recognised and ignored.
public struct TrialRecord: StoreRecord, Equatable {
    public var id: Int64?
    public var searchID: Int64
    public var candidateID: String
    public var kind: TrialKind
    /// How much training (or measuring) the trial gets; higher is better informed, e.g. epochs.
    public var fidelity: Double
    public var state: TrialState
    public var attempt: Int
    /// The worker running (or that last ran) the trial.
    public var workerID: String?
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The final metrics, a JSON object as text.
    public var metrics: String?
    /// `metrics["accuracy"]`, as a column for ranking.
    public var accuracy: Double?
    /// Why the trial failed or was pruned or cancelled.
    public var error: String?

    public static let databaseTableName = "trials"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, kind, fidelity, state, attempt, metrics, accuracy, error
        case searchID = "search_id", candidateID = "candidate_id", workerID = "worker_id"
        case queuedAt = "queued_at", startedAt = "started_at", finishedAt = "finished_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The id, which every stored trial has.
    public var trialID: Int64 { id ?? 0 }
}

/// A trial to add: a candidate (stored if new) to evaluate at a fidelity.
public struct TrialRequest: Sendable {
    public var candidate: CandidateRecord
    public var fidelity: Double
    public var kind: TrialKind

    public init(candidate: CandidateRecord, fidelity: Double, kind: TrialKind = .train) {
        self.candidate = candidate
        self.fidelity = fidelity
        self.kind = kind
    }
}
