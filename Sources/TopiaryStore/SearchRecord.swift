import Foundation
import GRDB
import TopiaryCore

/// One search: what it explores (the space, kept verbatim so the search can be resumed or
/// audited even if the file changes), for which hardware target, how, and where it stands.
public struct SearchRecord: StoreRecord, Equatable {
    public var id: Int64?
    public var spaceName: String
    /// The search space's YAML text exactly as it was when the search started.
    public var spaceYAML: String
    /// SHA-256 of `spaceYAML`.
    public var spaceHash: String
    /// The hardware target the search optimises for.
    public var target: String
    public var strategy: String
    /// The strategy's settings, a JSON object as text.
    public var strategySettings: String
    /// Objectives such as `accuracy:max`, `latency:min`.
    public var objectives: [String]
    /// Constraints, a JSON object as text (e.g. `{"max_latency_ms":5}`).
    public var constraints: String
    /// How many trials the search may run, as its strategy counts them; nil for no limit.
    public var budget: Int?
    /// The seed's bits: `UInt64(bitPattern:)` gives the seed back (see `seedValue`).
    public var seed: Int64
    /// A trial whose worker is lost is queued again until it has had this many attempts, then failed.
    public var maxAttempts: Int
    public var state: SearchState
    public var createdAt: Date
    public var updatedAt: Date

    /// The seed the search was started with.
    public var seedValue: UInt64 { UInt64(bitPattern: seed) }

    public static let databaseTableName = "searches"

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, target, strategy, objectives, constraints, budget, seed, state
        case spaceName = "space_name", spaceYAML = "space_yaml", spaceHash = "space_hash"
        case strategySettings = "strategy_settings", maxAttempts = "max_attempts"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// What it takes to start a search; the store assigns the id, state and times.
public struct NewSearch: Sendable {
    public var space: SearchSpace
    public var target: String
    public var strategy: String
    public var strategySettings: JSONValue
    public var objectives: [String]
    public var constraints: JSONValue
    public var budget: Int?
    public var seed: UInt64
    public var maxAttempts: Int

    public init(space: SearchSpace, target: String, strategy: String, strategySettings: JSONValue = .object([]),
                objectives: [String] = ["accuracy:max"], constraints: JSONValue = .object([]),
                budget: Int? = nil, seed: UInt64 = 0, maxAttempts: Int = 3) {
        self.space = space
        self.target = target
        self.strategy = strategy
        self.strategySettings = strategySettings
        self.objectives = objectives
        self.constraints = constraints
        self.budget = budget
        self.seed = seed
        self.maxAttempts = maxAttempts
    }
}
