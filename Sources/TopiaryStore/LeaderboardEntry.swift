import GRDB

/// One candidate on the leaderboard with its best result in the query's scope.
public struct LeaderboardEntry: Sendable, Equatable, Decodable, FetchableRecord {
    /// 1 for the best; on a Pareto front, the position in the order returned.
    public var rank: Int = 0
    public var candidateID: String
    /// The search and trial the result comes from.
    public var searchID: Int64
    public var trialID: Int64
    public var fidelity: Double
    public var accuracy: Double?
    /// The query's target, when it had one.
    public var target: String?
    /// The figure ranked and constrained: measured if there is a measurement, else predicted.
    public var latencyMs: Double?
    public var predictedMs: Double?
    public var measuredMs: Double?
    public var sizeBytes: Int
    public var peakActivationBytes: Int
    public var macs: Int
    public var params: Int
    public var weightBits: Int
    public var activationBits: Int
    public var pruningMethod: String
    public var compressionSummary: String
    /// The trial's final metrics, a JSON object as text.
    public var metrics: String?
    /// Whether the figures come from the search's final phase (the candidate trained again
    /// at full fidelity) rather than a search-time estimate.
    public var isFinal = false

    enum CodingKeys: String, CodingKey {
        case accuracy, target, fidelity, macs, params, metrics
        case candidateID = "candidate_id", searchID = "search_id", trialID = "trial_id"
        case latencyMs = "latency_ms", predictedMs = "predicted_ms", measuredMs = "measured_ms"
        case sizeBytes = "size_bytes", peakActivationBytes = "peak_activation_bytes"
        case weightBits = "weight_bits", activationBits = "activation_bits", pruningMethod = "pruning_method"
        case compressionSummary = "compression_summary"
    }

    /// Decodes a row by column name (faster than going through `Decoder`; a Pareto front
    /// can hold thousands of entries).
    public init(row: Row) {
        candidateID = row[CodingKeys.candidateID.rawValue]
        searchID = row[CodingKeys.searchID.rawValue]
        trialID = row[CodingKeys.trialID.rawValue]
        fidelity = row[CodingKeys.fidelity.rawValue]
        accuracy = row[CodingKeys.accuracy.rawValue]
        target = row[CodingKeys.target.rawValue]
        latencyMs = row[CodingKeys.latencyMs.rawValue]
        predictedMs = row[CodingKeys.predictedMs.rawValue]
        measuredMs = row[CodingKeys.measuredMs.rawValue]
        sizeBytes = row[CodingKeys.sizeBytes.rawValue]
        peakActivationBytes = row[CodingKeys.peakActivationBytes.rawValue]
        macs = row[CodingKeys.macs.rawValue]
        params = row[CodingKeys.params.rawValue]
        weightBits = row[CodingKeys.weightBits.rawValue]
        activationBits = row[CodingKeys.activationBits.rawValue]
        pruningMethod = row[CodingKeys.pruningMethod.rawValue]
        compressionSummary = row[CodingKeys.compressionSummary.rawValue]
        metrics = row[CodingKeys.metrics.rawValue]
        isFinal = (row["phase"] as String?) == TrialPhase.final.rawValue
    }

    /// The entry's figure for an objective (nil when it has none, e.g. no latency).
    public func value(of objective: Objective) -> Double? {
        switch objective {
        case .accuracy: return accuracy
        case .latency: return latencyMs
        case .size: return Double(sizeBytes)
        case .memory: return Double(peakActivationBytes)
        case .macs: return Double(macs)
        case .params: return Double(params)
        }
    }
}
