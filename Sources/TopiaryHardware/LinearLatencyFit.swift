/// Which model a calibration predicts with. The per-layer model is Topiary's own; the
/// linear forms are straight lines through whole-network counts (`NetworkSummary`), the
/// baselines anyone would fit; `blend` is the geometric mean of the per-layer model and
/// the best linear form. `Calibrator` picks the one with the smallest cross-validated
/// error on the calibration's own measurements, so that a calibrated target is never
/// knowingly worse than a straight line through FLOPs.
public enum LatencyForm: String, CaseIterable, Sendable {
    case perLayer = "per-layer"
    /// a + b·MACs
    case flops = "flops-linear"
    /// a + b·MACs + c·bytes moved
    case flopsMemory = "flops-memory-linear"
    /// a + b·MACs + Σ c_kind·(layers of that kind)
    case opCounts = "op-count-linear"
    /// a + b·(the sum of the network's kernels as a sweep on the device measured them)
    case kernels = "kernel-sum"
    /// √(per-layer × best linear form)
    case blend = "blend"

    public static let linear: [LatencyForm] = [.flops, .flopsMemory, .opCounts, .kernels]
    /// What calibration compares unless told otherwise: every form but the kernel sum,
    /// which the leave-one-out harness found worse than the per-layer model on every pair
    /// of this machine (docs/HARDWARE.md) and which a calibration compares only when asked
    /// (`target calibrate --kernels`).
    public static let defaultChoice: [LatencyForm] = allCases.filter { $0 != .kernels }
}

/// A straight line through a network's counts, fitted in relative error with
/// non-negative weights (latency only grows with work; a negative weight is a fit
/// chasing noise): min Σᵢ (w·fᵢ / yᵢ − 1)².
public struct LinearLatencyFit: Sendable, Equatable {
    public var form: LatencyForm
    /// Feature name → weight (milliseconds per unit).
    public var weights: [String: Double]

    public init(form: LatencyForm, weights: [String: Double]) {
        self.form = form
        self.weights = weights
    }

    /// The names of a form's features, in order.
    public static func featureNames(_ form: LatencyForm) -> [String] {
        switch form {
        case .flops: return ["intercept", "macs"]
        case .flopsMemory: return ["intercept", "macs", "bytes"]
        case .opCounts: return ["intercept", "macs"] + OperationKind.allCases.map { "layers.\($0.rawValue)" }
        case .kernels: return ["intercept", "kernels"]
        case .perLayer, .blend: return []
        }
    }

    /// Whether the form can predict this network (the kernel sum needs a sweep).
    public static func applies(_ form: LatencyForm, _ s: NetworkSummary) -> Bool {
        form != .kernels || s.kernelMilliseconds != nil
    }

    /// A form's features of one network, in `featureNames` order.
    public static func features(_ form: LatencyForm, _ s: NetworkSummary) -> [Double] {
        switch form {
        case .flops: return [1, s.macs]
        case .flopsMemory: return [1, s.macs, s.bytes]
        case .opCounts: return [1, s.macs] + OperationKind.allCases.map { Double(s.layers[$0] ?? 0) }
        case .kernels: return [1, s.kernelMilliseconds ?? 0]
        case .perLayer, .blend: return []
        }
    }

    /// Parameters the form fits: its features that vary or are non-zero in `summaries`.
    static func parameters(_ form: LatencyForm, _ summaries: [NetworkSummary]) -> Int {
        let rows = summaries.map { features(form, $0) }
        guard let first = rows.first else { return 0 }
        return first.indices.filter { j in rows.contains { $0[j] != 0 } }.count
    }

    public func milliseconds(_ s: NetworkSummary) -> Double {
        let names = Self.featureNames(form)
        return zip(names, Self.features(form, s)).reduce(0) { $0 + (weights[$1.0] ?? 0) * $1.1 }
    }

    /// Fits `form` to networks and their measured milliseconds; nil for the non-linear
    /// forms or without samples.
    public static func fit(_ form: LatencyForm, summaries: [NetworkSummary], measured: [Double]) -> LinearLatencyFit? {
        let names = featureNames(form)
        guard !names.isEmpty, !summaries.isEmpty else { return nil }
        var design = summaries.enumerated().map { i, s in features(form, s).map { $0 / measured[i] } }
        // Columns scaled to a largest entry of 1: MACs run to millions, the intercept is 1.
        var scale = [Double](repeating: 1, count: names.count)
        for j in names.indices {
            let m = design.reduce(0.0) { max($0, abs($1[j])) }
            scale[j] = m > 0 ? m : 1
            for i in design.indices { design[i][j] /= scale[j] }
        }
        let x = NNLS.solve(design, [Double](repeating: 1, count: design.count)).x
        var weights: [String: Double] = [:]
        for (j, n) in names.enumerated() { weights[n] = x[j] / scale[j] }
        return LinearLatencyFit(form: form, weights: weights)
    }
}
