import Foundation
import TopiaryCore

/// The second objective of the two-objective strategy suite's synthetic benchmarks: a positive cost
/// (think MACs or latency) over the same dimensions as an accuracy landscape, log-normal over
/// random candidates and correlated with accuracy, as bigger networks are both more accurate
/// and more expensive; that correlation is what makes a trade-off to search.
///
/// cost(x) = exp(logSD × (ρ·z_acc(x) + √(1−ρ²)·z_other(x))), where z_acc is the accuracy
/// landscape and z_other an independent landscape of the same family (its own interactions,
/// no noise), each standardized over random candidates. The cost is exact: strategies know it
/// before training, as they know MACs. bench/landscape.py (`TradeOff`) computes the same from
/// `json()`. `topiary-bench pareto-suite` builds its benchmarks from these; nothing in a search uses them.
public struct SyntheticTradeOff: Sendable {
    public static let correlation = 0.6
    public static let logSD = 0.7

    public let accuracy: SyntheticLandscape
    public let other: SyntheticLandscape

    /// The cost paired with `accuracy`; `interaction` and `seed` as the landscape's.
    public init(accuracy: SyntheticLandscape, interaction: Double, seed: UInt64) throws(StrategyError) {
        self.accuracy = accuracy
        other = try SyntheticLandscape(name: accuracy.name + "/cost", space: accuracy.space, interaction: interaction, noise: 0,
                                       seed: seed ^ 0xC057_0000)
    }

    public func value(_ c: Candidate) -> Double { value(accuracy.indices(of: c)) }

    public func value(_ x: [Int?]) -> Double {
        let za = (accuracy.value(x) - SyntheticLandscape.mean) / SyntheticLandscape.sd
        let zo = (other.value(x) - SyntheticLandscape.mean) / SyntheticLandscape.sd
        let rho = Self.correlation
        return exp(Self.logSD * (rho * za + (1 - rho * rho).squareRoot() * zo))
    }

    /// Hypervolume reference: two standard deviations below the mean accuracy, and the cost two
    /// log-standard deviations above the median.
    public var reference: (Double, Double) { (SyntheticLandscape.mean - 2 * SyntheticLandscape.sd, exp(2 * Self.logSD)) }

    /// Both landscapes and the constants, with the cost of 20 random candidates for the script
    /// to check its reading against.
    public func json() -> Data {
        let checks = accuracy.space.sample(count: 20, seed: 78).map { c -> [String: Any] in
            let x = accuracy.indices(of: c)
            return ["key": accuracy.key(x), "cost": value(x)]
        }
        let object: [String: Any] = [
            "accuracy": accuracy.jsonObject(), "cost_other": other.jsonObject(),
            "correlation": Self.correlation, "log_sd": Self.logSD,
            "center": SyntheticLandscape.mean, "scale": SyntheticLandscape.sd,
            "reference": [reference.0, reference.1], "checks": checks,
        ]
        return try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}
