import Foundation

/// Which choices move a figure: for each dimension (an architecture choice or a
/// compression setting), the share of the figure's variance its values explain — η², the
/// between-group sum of squares over the total, from a one-way analysis of variance. It is
/// cheap, needs no model, and reads the same for any figure (accuracy, latency). Dimensions
/// that interact show less than their joint effect; with few results per value the share
/// is biased upwards, so the count of results is shown beside it.
public enum ParameterImportance {
    public struct Share: Sendable, Equatable {
        public var dimension: String
        /// 0...1: the fraction of the variance the dimension's values explain.
        public var share: Double
        /// Values seen, and results that had the dimension.
        public var levels: Int
        public var count: Int
        /// The value with the highest mean, and that mean.
        public var bestValue: String
        public var bestMean: Double
    }

    /// Shares for every dimension seen in two or more values, largest first. `rows` hold
    /// each result's choices (dimension -> value as text) and figure.
    public static func shares(_ rows: [(choices: [String: String], value: Double)]) -> [Share] {
        let finite = rows.filter { $0.value.isFinite }
        guard finite.count >= 3 else { return [] }
        // Dimensions and values as small integers: one pass of string hashing, then arrays.
        var dimIndex: [String: Int] = [:]
        var valueIndex: [[String: Int]] = []
        var valueNames: [[String]] = []
        var coded: [[(dim: Int, value: Int)]] = []
        coded.reserveCapacity(finite.count)
        for r in finite {
            var row: [(Int, Int)] = []
            row.reserveCapacity(r.choices.count)
            for (d, v) in r.choices {
                let di: Int
                if let i = dimIndex[d] { di = i } else {
                    di = dimIndex.count
                    dimIndex[d] = di
                    valueIndex.append([:])
                    valueNames.append([])
                }
                let vi: Int
                if let i = valueIndex[di][v] { vi = i } else {
                    vi = valueNames[di].count
                    valueIndex[di][v] = vi
                    valueNames[di].append(v)
                }
                row.append((di, vi))
            }
            coded.append(row)
        }
        let dims = dimIndex.count
        var sums = valueNames.map { [Double](repeating: 0, count: $0.count) }
        var counts = valueNames.map { [Int](repeating: 0, count: $0.count) }
        var total = [Double](repeating: 0, count: dims), totalSq = [Double](repeating: 0, count: dims)
        var n = [Int](repeating: 0, count: dims)
        for (r, row) in zip(finite, coded) {
            for (d, v) in row {
                sums[d][v] += r.value
                counts[d][v] += 1
                total[d] += r.value
                totalSq[d] += r.value * r.value
                n[d] += 1
            }
        }
        var out: [Share] = []
        for (name, d) in dimIndex where valueNames[d].count >= 2 && n[d] >= 3 {
            let mean = total[d] / Double(n[d])
            let ss = totalSq[d] - Double(n[d]) * mean * mean
            guard ss > 1e-12 * max(1, totalSq[d]) else { continue }
            var between = 0.0
            var best = 0
            for v in 0..<valueNames[d].count where counts[d][v] > 0 {
                let m = sums[d][v] / Double(counts[d][v])
                between += Double(counts[d][v]) * (m - mean) * (m - mean)
                if sums[d][v] / Double(counts[d][v]) > sums[d][best] / Double(max(counts[d][best], 1)) || counts[d][best] == 0 { best = v }
            }
            out.append(Share(dimension: name, share: min(1, between / ss), levels: valueNames[d].count, count: n[d],
                             bestValue: valueNames[d][best], bestMean: sums[d][best] / Double(counts[d][best])))
        }
        return out.sorted { $0.share != $1.share ? $0.share > $1.share : $0.dimension < $1.dimension }
    }
}
