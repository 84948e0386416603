import Foundation
import GRDB

/// An intermediate report of a trial: the metrics at one step (e.g. an epoch) of one attempt.
public struct TrialMetricRecord: StoreRecord, Equatable {
    public var trialID: Int64
    public var attempt: Int
    public var step: Int
    /// A JSON object as text.
    public var metrics: String
    public var recordedAt: Date

    public static let databaseTableName = "trial_metrics"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case attempt, step, metrics
        case trialID = "trial_id", recordedAt = "recorded_at"
    }
}
