/// A figure candidates are ranked by. Accuracy is maximised; everything else minimised.
public enum Objective: String, CaseIterable, Sendable, CustomStringConvertible {
    case accuracy
    /// Latency on the query's target (measured if there is a measurement, else predicted).
    case latency
    /// Bytes of the stored model.
    case size
    /// Peak activation memory in bytes.
    case memory
    case macs
    case params

    public var maximize: Bool { self == .accuracy }

    /// The leaderboard column holding the figure.
    var column: String {
        switch self {
        case .accuracy: return "accuracy"
        case .latency: return "latency_ms"
        case .size: return "size_bytes"
        case .memory: return "peak_activation_bytes"
        case .macs: return "macs"
        case .params: return "params"
        }
    }

    public var description: String { rawValue }
}
