import Foundation

/// `leaderboard`: the best candidates of the store (of one search, on one target), or the
/// Pareto front — what `topiary leaderboard` prints, for clients without the CLI.
public struct LeaderboardRequest: Codable, Sendable, Equatable {
    public var search: Int64?
    public var target: String?
    /// `accuracy`, `latency`, `size`, `memory`, `macs`, `params`.
    public var by: String = "accuracy"
    public var limit: Int = 10
    /// The Pareto front over `objectives` instead of the top `limit`.
    public var pareto = false
    public var objectives: [String] = []

    public init(search: Int64? = nil, target: String? = nil) {
        self.search = search
        self.target = target
    }

    enum CodingKeys: String, CodingKey { case search, target, by, limit, pareto, objectives }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        search = try c.decodeIfPresent(Int64.self, forKey: .search)
        target = try c.decodeIfPresent(String.self, forKey: .target)
        by = try c.decodeIfPresent(String.self, forKey: .by) ?? "accuracy"
        limit = try c.decodeIfPresent(Int.self, forKey: .limit) ?? 10
        pareto = try c.decodeIfPresent(Bool.self, forKey: .pareto) ?? false
        objectives = try c.decodeIfPresent([String].self, forKey: .objectives) ?? []
        guard (1...100_000).contains(limit) else { throw ControlError("'limit' must be 1...100000") }
    }
}
