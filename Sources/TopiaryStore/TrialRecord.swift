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
    /// The search itself, or its final phase.
    public var phase: TrialPhase = .search

    public static let databaseTableName = "trials"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, kind, fidelity, state, attempt, metrics, accuracy, error, phase
        case searchID = "search_id", candidateID = "candidate_id", workerID = "worker_id"
        case queuedAt = "queued_at", startedAt = "started_at", finishedAt = "finished_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// Decodes a row by column name: trials are read on every report, and this is several
    /// times faster than going through `Decoder`.
    public init(row: Row) throws {
        id = row[CodingKeys.id.rawValue]
        searchID = row[CodingKeys.searchID.rawValue]
        candidateID = row[CodingKeys.candidateID.rawValue]
        guard let kind = TrialKind(rawValue: row[CodingKeys.kind.rawValue]),
              let state = TrialState(rawValue: row[CodingKeys.state.rawValue]) else {
            throw StoreError.invalidValue(field: "trials.kind/state", detail: "unknown value in row \(row)")
        }
        self.kind = kind
        self.state = state
        fidelity = row[CodingKeys.fidelity.rawValue]
        attempt = row[CodingKeys.attempt.rawValue]
        workerID = row[CodingKeys.workerID.rawValue]
        queuedAt = Date(timeIntervalSince1970: row[CodingKeys.queuedAt.rawValue])
        startedAt = (row[CodingKeys.startedAt.rawValue] as Double?).map(Date.init(timeIntervalSince1970:))
        finishedAt = (row[CodingKeys.finishedAt.rawValue] as Double?).map(Date.init(timeIntervalSince1970:))
        metrics = row[CodingKeys.metrics.rawValue]
        accuracy = row[CodingKeys.accuracy.rawValue]
        error = row[CodingKeys.error.rawValue]
        phase = (row[CodingKeys.phase.rawValue] as String?).flatMap(TrialPhase.init(rawValue:)) ?? .search
    }

    init(id: Int64?, searchID: Int64, candidateID: String, kind: TrialKind, fidelity: Double, state: TrialState, attempt: Int,
         workerID: String?, queuedAt: Date, startedAt: Date?, finishedAt: Date?, metrics: String?, accuracy: Double?, error: String?) {
        self.id = id
        self.searchID = searchID
        self.candidateID = candidateID
        self.kind = kind
        self.fidelity = fidelity
        self.state = state
        self.attempt = attempt
        self.workerID = workerID
        self.queuedAt = queuedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.metrics = metrics
        self.accuracy = accuracy
        self.error = error
    }

    /// Reads one trial through a cached statement.
    static func fetch(_ db: Database, id: Int64) throws -> TrialRecord? {
        try TrialRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM trials WHERE id = ?"), arguments: [id])
    }

    /// The id, which every stored trial has.
    public var trialID: Int64 { id ?? 0 }
}

/// A trial to add: a candidate (stored if new) to evaluate at a fidelity.
public struct TrialRequest: Sendable {
    public var candidate: CandidateRecord
    public var fidelity: Double
    public var kind: TrialKind
    public var phase: TrialPhase

    public init(candidate: CandidateRecord, fidelity: Double, kind: TrialKind = .train, phase: TrialPhase = .search) {
        self.candidate = candidate
        self.fidelity = fidelity
        self.kind = kind
        self.phase = phase
    }
}
