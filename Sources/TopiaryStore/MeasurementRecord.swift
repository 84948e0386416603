import Foundation
import GRDB

/// Where a latency figure comes from.
public enum LatencySource: String, Codable, Sendable, CaseIterable {
    /// From the target's latency model, before training.
    case predicted
    /// Timed on the hardware by a worker tagged with the target.
    case measured
}

/// The latency of a candidate on a hardware target, predicted or measured. The store keeps
/// the latest figure of each (candidate, target, source); rankings use the measured figure
/// when there is one, else the predicted one.
public struct MeasurementRecord: StoreRecord, Equatable {
    public var candidateID: String
    public var target: String
    public var source: LatencySource
    public var latencyMs: Double
    /// The worker that measured it, or the model that predicted it.
    public var recordedBy: String
    public var recordedAt: Date

    public static let databaseTableName = "measurements"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case target, source
        case candidateID = "candidate_id", latencyMs = "latency_ms"
        case recordedBy = "recorded_by", recordedAt = "recorded_at"
    }

    public init(candidateID: String, target: String, source: LatencySource, latencyMs: Double,
                recordedBy: String, recordedAt: Date) {
        self.candidateID = candidateID
        self.target = target
        self.source = source
        self.latencyMs = latencyMs
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
    }
}
