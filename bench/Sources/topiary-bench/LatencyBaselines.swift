import TopiaryHardware

/// The straight lines a user would fit without Topiary, by ordinary least squares on the
/// same k measurements the calibration sees: latency against FLOPs (MACs), and against
/// the number of layers of each kind. Every latency figure is reported beside them.
enum LatencyBaseline: String, CaseIterable {
    case flops = "FLOPs-linear"
    case opCounts = "op-count linear"

    func features(_ s: NetworkSummary) -> [Double] {
        switch self {
        case .flops: return [1, s.macs]
        case .opCounts: return [1] + OperationKind.allCases.map { Double(s.layers[$0] ?? 0) }
        }
    }

    /// Fits on `train` and predicts `test` (a prediction below 1% of the smallest
    /// training measurement is raised to it: a line can cross zero, latency cannot).
    func predict(train: [(NetworkSummary, Double)], test: [NetworkSummary]) -> [Double] {
        let rows = train.map { features($0.0) }
        let width = rows.first?.count ?? 0
        // Columns scaled to a largest entry of 1 for the QR solve, and scaled back.
        var scale = [Double](repeating: 1, count: width)
        for j in 0..<width { scale[j] = max(rows.reduce(0.0) { max($0, abs($1[j])) }, 1e-300) }
        let a = rows.map { r in r.enumerated().map { $0.element / scale[$0.offset] } }
        let x = NNLS.leastSquares(a, train.map(\.1), columns: Array(0..<width))
        let floor = 0.01 * (train.map(\.1).min() ?? 0)
        return test.map { s in max(floor, zip(features(s), x).enumerated().reduce(0) { $0 + $1.element.0 * $1.element.1 / scale[$1.offset] }) }
    }
}
