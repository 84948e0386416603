/// A figure a search optimizes: a metric the trainer reports (`accuracy`) or one known
/// before training from the problem's predictor (`macs`, `params`, `size_kb`,
/// `memory_kb`, `latency_ms`).
public struct SearchObjective: Hashable, Sendable, CustomStringConvertible {
    public var metric: String
    public var maximize: Bool

    public init(_ metric: String, maximize: Bool) {
        self.metric = metric
        self.maximize = maximize
    }

    public static let accuracy = SearchObjective("accuracy", maximize: true)
    public static let macs = SearchObjective("macs", maximize: false)
    public static let params = SearchObjective("params", maximize: false)
    public static let latency = SearchObjective("latency_ms", maximize: false)

    /// `accuracy:max`, `latency_ms:min`; a bare name maximizes `accuracy` and minimizes anything else.
    public static func parse(_ text: String) throws(StrategyError) -> SearchObjective {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { String($0) }
        guard let name = parts.first, !name.isEmpty, parts.count <= 2,
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
            throw .invalidObjective(text, "expected METRIC or METRIC:max or METRIC:min, e.g. accuracy:max, macs:min")
        }
        if parts.count == 1 { return SearchObjective(name, maximize: name == "accuracy") }
        switch parts[1] {
        case "max": return SearchObjective(name, maximize: true)
        case "min": return SearchObjective(name, maximize: false)
        default: throw .invalidObjective(text, "the direction must be 'max' or 'min', not '\(parts[1])'")
        }
    }

    public var description: String { "\(metric):\(maximize ? "max" : "min")" }

    /// The value turned so that larger is better.
    @inlinable public func gain(_ value: Double) -> Double { maximize ? value : -value }
}
