import TopiaryCore

/// What a search explores and what it must respect, shared by every strategy.
///
/// - `objectives`: the first is the primary one; single-objective strategies (random,
///   evolution, ASHA) rank by it, NSGA-II by all of them.
/// - `constraint`: a hard limit checked before a candidate is suggested (a cost or latency
///   budget); a candidate it rejects is never suggested.
/// - `predictor`: figures known before training (cost figures, predicted latency), used for
///   objectives and the latency reward when the trainer does not report them. Optional:
///   strategies work without it as long as the objectives they need are reported.
/// - `fidelity`: what a full evaluation gets (e.g. epochs); every strategy but ASHA
///   suggests only this fidelity, and ASHA uses it as its highest rung.
public struct SearchProblem: Sendable {
    public var space: SearchSpace
    public var seed: UInt64
    public var fidelity: Double
    public var objectives: [SearchObjective]
    public var constraint: (@Sendable (Candidate) -> Bool)?
    public var predictor: (@Sendable (Candidate) -> Metrics)?

    public init(space: SearchSpace, seed: UInt64, fidelity: Double = 1, objectives: [SearchObjective] = [.accuracy],
                constraint: (@Sendable (Candidate) -> Bool)? = nil,
                predictor: (@Sendable (Candidate) -> Metrics)? = nil) {
        self.space = space
        self.seed = seed
        self.fidelity = fidelity
        self.objectives = objectives.isEmpty ? [.accuracy] : objectives
        self.constraint = constraint
        self.predictor = predictor
    }

    public var primary: SearchObjective { objectives[0] }

    /// Whether a candidate may be suggested.
    public func admits(_ c: Candidate) -> Bool { constraint?(c) ?? true }

    /// The value of `metric` for a trial: what the trainer reported, else the prediction.
    public func value(_ metric: String, reported: Metrics?, candidate: Candidate) -> Double? {
        if let v = reported?[metric] { return v }
        return predictor?(candidate)[metric]
    }
}

/// Figures of a candidate known before training, for `SearchProblem.predictor`.
public enum CostFigures {
    /// `macs`, `params`, `size_kb` and `memory_kb` from the candidate's compressed network
    /// graph, plus `latency_ms` when `latency` is given (e.g. a hardware latency model).
    public static func predictor(space: SearchSpace,
                                 latency: (@Sendable (Candidate) -> Double?)? = nil) -> @Sendable (Candidate) -> Metrics {
        { c in
            let cost = NetworkGraph.build(compressed: c, in: space).cost()
            var m: Metrics = [
                "macs": Double(cost.macs), "params": Double(cost.params),
                "size_kb": Double(cost.sizeBytes) / 1024, "memory_kb": Double(cost.peakActivationBytes) / 1024,
            ]
            if let l = latency?(c) { m["latency_ms"] = l }
            return m
        }
    }
}
