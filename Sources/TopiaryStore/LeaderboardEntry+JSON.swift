import TopiaryCore

extension LeaderboardEntry {
    /// The entry as `topiary leaderboard --format json` and the `leaderboard` control request
    /// give it; `choices` is the candidate's canonical JSON (its space, architecture and
    /// compression choices), when known.
    public func json(choices: JSONValue?) -> JSONValue {
        func d(_ v: Double?) -> JSONValue { v.map { .double($0) } ?? .null }
        return .object([
            ("rank", .int(rank)), ("candidate_id", .string(candidateID)), ("search_id", .int(Int(searchID))),
            ("trial_id", .int(Int(trialID))), ("fidelity", .double(fidelity)), ("final", .bool(isFinal)), ("accuracy", d(accuracy)),
            ("target", target.map { .string($0) } ?? .null), ("latency_ms", d(latencyMs)),
            ("predicted_ms", d(predictedMs)), ("measured_ms", d(measuredMs)), ("size_bytes", .int(sizeBytes)),
            ("peak_activation_bytes", .int(peakActivationBytes)), ("macs", .int(macs)), ("params", .int(params)),
            ("weight_bits", .int(weightBits)), ("activation_bits", .int(activationBits)),
            ("pruning_method", .string(pruningMethod)), ("compression", .string(compressionSummary)),
            ("metrics", metrics.flatMap { try? JSONText.parse($0) } ?? .null),
            ("space", choices?["space"] ?? .null),
            ("arch", choices?["arch"] ?? .null),
            ("compression_choices", choices?["compression"] ?? .null),
        ])
    }
}

extension Store {
    /// The candidates' canonical JSON, parsed, by id.
    public func choices(of entries: [LeaderboardEntry]) throws -> [String: JSONValue] {
        try candidateJSON(Array(Set(entries.map(\.candidateID)))).compactMapValues { try? JSONText.parse($0) }
    }
}
