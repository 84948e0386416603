/// Which results to rank and how: one search or all, an optional hardware target,
/// constraints and compression filters. Constraints left nil do not filter.
///
/// Each candidate appears once, with its best-fidelity result (highest fidelity, then
/// highest accuracy) within the scope. Accuracy does not depend on the target, so ranking
/// the same results for another target is the same query with another `target`.
public struct LeaderboardQuery: Sendable, Equatable {
    /// A search id; nil ranks the best result of each candidate over all searches.
    public var search: Int64?
    /// The hardware target whose latency figures are shown and constrained.
    public var target: String?
    /// What to rank by; ties go to higher accuracy, then to the lower candidate id.
    public var orderBy: Objective = .accuracy
    /// How many entries `leaderboard` returns.
    public var limit: Int = 10
    /// Requires `target`; candidates with no latency figure for it are left out.
    public var maxLatencyMs: Double?
    public var maxSizeBytes: Int?
    public var maxPeakActivationBytes: Int?
    public var minAccuracy: Double?
    /// Keep only results at least this fidelity (e.g. fully trained ones).
    public var minFidelity: Double?
    /// Keep only these weight bit widths (e.g. [8] for int8 weights).
    public var weightBits: Set<Int>?
    public var activationBits: Set<Int>?
    /// Keep only these pruning methods (`none`, `magnitude`, `channel`).
    public var pruningMethods: Set<String>?

    public init(search: Int64? = nil, target: String? = nil, orderBy: Objective = .accuracy, limit: Int = 10,
                maxLatencyMs: Double? = nil, maxSizeBytes: Int? = nil, maxPeakActivationBytes: Int? = nil,
                minAccuracy: Double? = nil, minFidelity: Double? = nil, weightBits: Set<Int>? = nil,
                activationBits: Set<Int>? = nil, pruningMethods: Set<String>? = nil) {
        self.search = search
        self.target = target
        self.orderBy = orderBy
        self.limit = limit
        self.maxLatencyMs = maxLatencyMs
        self.maxSizeBytes = maxSizeBytes
        self.maxPeakActivationBytes = maxPeakActivationBytes
        self.minAccuracy = minAccuracy
        self.minFidelity = minFidelity
        self.weightBits = weightBits
        self.activationBits = activationBits
        self.pruningMethods = pruningMethods
    }
}
