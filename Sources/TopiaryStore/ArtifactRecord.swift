import Foundation
import GRDB

/// A file a trial's worker uploaded (see `StoreSchema.v3Artifacts`).
public struct ArtifactRecord: StoreRecord, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable {
        case pending, stored, refused, lost, corrupt, removed
    }

    public var trialID: Int64
    public var attempt: Int
    public var name: String
    public var searchID: Int64
    public var sha256: String
    public var bytes: Int
    public var workerID: String
    public var state: State
    public var reason: String?
    public var createdAt: Date
    public var storedAt: Date?

    public static let databaseTableName = "artifacts"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case name, sha256, bytes, state, reason, attempt
        case trialID = "trial_id", searchID = "search_id", workerID = "worker_id", createdAt = "created_at", storedAt = "stored_at"
    }

    public init(trialID: Int64, attempt: Int, name: String, searchID: Int64, sha256: String, bytes: Int, workerID: String,
                state: State, reason: String? = nil, createdAt: Date = Date(), storedAt: Date? = nil) {
        self.trialID = trialID; self.attempt = attempt; self.name = name; self.searchID = searchID; self.sha256 = sha256
        self.bytes = bytes; self.workerID = workerID; self.state = state; self.reason = reason; self.createdAt = createdAt
        self.storedAt = storedAt
    }
}

/// An artifact a worker declared with a result: name, digest, size, and why it is refused
/// (nil: to be fetched).
public struct ArtifactDeclaration: Sendable, Equatable {
    public var name: String
    public var sha256: String
    public var bytes: Int
    public var refused: String?
    public init(name: String, sha256: String, bytes: Int, refused: String? = nil) {
        self.name = name; self.sha256 = sha256; self.bytes = bytes; self.refused = refused
    }
}
