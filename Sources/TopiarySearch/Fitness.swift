import Foundation
import TopiaryCore

/// The scalar single-objective strategies rank by: the primary objective (turned so that
/// larger is better), optionally times MnasNet's latency reward.
///
/// MnasNet (Tan et al., 2019) scores a model as `ACC(m) × (LAT(m) / T)^w` with `w = alpha`
/// when `LAT(m) <= T` and `w = beta` otherwise; `alpha = beta = -0.07` is the soft reward
/// (a model twice as slow as the target loses about 5% of its score), `alpha = 0, beta = -1`
/// a sharp one. Options: `reward_target` (T; the reward is off without it), `reward_metric`
/// (default `latency_ms`, reported or predicted), `reward_alpha`, `reward_beta`.
struct Fitness: Sendable, Equatable {
    var objective: SearchObjective
    var rewardTarget: Double?
    var rewardMetric = "latency_ms"
    var alpha = -0.07
    var beta = -0.07

    static let optionNames = ["reward_target", "reward_metric", "reward_alpha", "reward_beta"]

    init(objective: SearchObjective) { self.objective = objective }

    /// Reads the reward options (shared by random, evolution and ASHA).
    init(objective: SearchObjective, reading r: inout StrategyOptions.Reader) throws(StrategyError) {
        self.objective = objective
        rewardTarget = try r.double("reward_target", default: nil, in: 1e-12...Double.greatestFiniteMagnitude)
        rewardMetric = r.string("reward_metric") ?? "latency_ms"
        alpha = try r.double("reward_alpha", default: -0.07, in: -10...10)!
        beta = try r.double("reward_beta", default: -0.07, in: -10...10)!
        if rewardTarget != nil && !objective.maximize {
            throw .invalidOption(strategy: r.strategy, option: "reward_target", value: r.options["reward_target"] ?? "",
                                 expected: "a primary objective to maximize (the reward multiplies it); '\(objective)' is minimized")
        }
    }

    /// The fitness of metrics `m` of a candidate whose reward figure is `figure` (nil: no penalty).
    func score(_ value: Double, figure: Double?) -> Double {
        var v = objective.gain(value)
        if let t = rewardTarget, let f = figure, f > 0 {
            v *= pow(f / t, f <= t ? alpha : beta)
        }
        return v
    }

    /// The fitness of a completed trial, nil when it has no value for the objective.
    func score(_ trial: Trial, _ core: StrategyCore) -> Double? {
        guard let m = trial.status.metrics, let v = m[objective.metric] ?? core.predicted(trial.candidate)[objective.metric] else { return nil }
        return score(v, figure: rewardTarget == nil ? nil : core.value(rewardMetric, of: trial))
    }
}
