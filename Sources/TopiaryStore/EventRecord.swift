import Foundation
import GRDB

/// One line of the append-only event log (the database refuses updates and deletes).
///
/// Kinds the store writes: `search.created`, `search.state`, `trials.enqueued`,
/// `trial.requeued`, `trial.failed`, `trial.pruned`, `trial.cancelled`,
/// `result.duplicate`, `result.stale`, `result.late`, `worker.registered`.
public struct EventRecord: StoreRecord, Equatable {
    public var id: Int64?
    public var time: Date
    public var searchID: Int64?
    public var trialID: Int64?
    public var workerID: String?
    public var kind: String
    public var message: String

    public static let databaseTableName = "events"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, time, kind, message
        case searchID = "search_id", trialID = "trial_id", workerID = "worker_id"
    }

    public init(id: Int64? = nil, time: Date, searchID: Int64? = nil, trialID: Int64? = nil, workerID: String? = nil,
                kind: String, message: String) {
        self.id = id
        self.time = time
        self.searchID = searchID
        self.trialID = trialID
        self.workerID = workerID
        self.kind = kind
        self.message = message
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
