import TopiaryCore

/// A hard limit a candidate must meet before it is trained, on a figure known without
/// training: `macs`, `params`, `size_kb`, `memory_kb` (peak activations), `latency_ms`
/// (predicted on the search's target, when a latency model is available).
public struct Constraint: Sendable, Equatable, CustomStringConvertible {
    public enum Metric: String, Sendable, CaseIterable {
        case macs, params
        case sizeKB = "size_kb"
        case memoryKB = "memory_kb"
        case latencyMs = "latency_ms"
    }

    public var metric: Metric
    public var atMost: Bool
    public var value: Double

    public var description: String { "\(metric.rawValue)\(atMost ? "<=" : ">=")\(ChoiceValue.formatDouble(value))" }

    /// Parses `params<=100000`, `size_kb<=64`, `latency_ms<=5`.
    public static func parse(_ text: String) throws -> Constraint {
        let ops = ["<=", ">="]
        guard let op = ops.first(where: { text.contains($0) }) else {
            throw ConstraintError("'\(text)': expected NAME<=VALUE or NAME>=VALUE with NAME one of \(Metric.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let parts = text.components(separatedBy: op)
        let name = parts[0].trimmingCharacters(in: .whitespaces)
        guard parts.count == 2, let metric = Metric(rawValue: name) else {
            let known = Metric.allCases.map(\.rawValue)
            let hint = MetricCatalog.suggestion(name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConstraintError("'\(text)': unknown figure '\(name)'\(hint); constraints are checked before training, "
                                  + "on one of \(known.joined(separator: ", "))")
        }
        guard let v = Double(parts[1].trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
            throw ConstraintError("'\(text)': the limit must be a non-negative number")
        }
        return Constraint(metric: metric, atMost: op == "<=", value: v)
    }

    /// The figure this constraint reads from a cost report (and predicted latency).
    public func figure(_ cost: CostReport, latencyMs: Double?) -> Double? {
        switch metric {
        case .macs: return Double(cost.macs)
        case .params: return Double(cost.params)
        case .sizeKB: return Double(cost.sizeBytes) / 1024
        case .memoryKB: return Double(cost.peakActivationBytes) / 1024
        case .latencyMs: return latencyMs
        }
    }

    public func admits(_ cost: CostReport, latencyMs: Double?) -> Bool {
        guard let f = figure(cost, latencyMs: latencyMs) else { return true }
        return atMost ? f <= value : f >= value
    }
}

public struct ConstraintError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
