/// How well predictions match measurements: the share within ±10%, Spearman's rank
/// correlation, and the median absolute relative error.
public struct FitQuality: Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    /// Share (0...1) of predictions within ±10% of the measurement.
    public var withinTenPercent: Double
    /// Spearman's ρ between predicted and measured (ties take average ranks).
    public var spearman: Double
    /// Median of |predicted − measured| / measured.
    public var medianRelativeError: Double

    public init(count: Int, withinTenPercent: Double, spearman: Double, medianRelativeError: Double) {
        self.count = count
        self.withinTenPercent = withinTenPercent
        self.spearman = spearman
        self.medianRelativeError = medianRelativeError
    }

    /// Compares paired predictions and measurements.
    public init(predicted: [Double], measured: [Double]) {
        precondition(predicted.count == measured.count, "FitQuality: \(predicted.count) predictions for \(measured.count) measurements")
        let n = predicted.count
        let rel = zip(predicted, measured).map { abs($0 - $1) / $1 }
        count = n
        withinTenPercent = n == 0 ? 0 : Double(rel.filter { $0 <= 0.1 }.count) / Double(n)
        spearman = Self.spearman(predicted, measured)
        medianRelativeError = Self.median(rel)
    }

    public var description: String {
        func pct(_ x: Double) -> String { String((x * 1000).rounded() / 10) + "%" }
        return "\(count) samples: \(pct(withinTenPercent)) within ±10%, Spearman ρ \(String((spearman * 1000).rounded() / 1000)), median error \(pct(medianRelativeError))"
    }

    /// Spearman's ρ: Pearson's correlation of the ranks.
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count == b.count, a.count > 1 else { return 0 }
        return pearson(ranks(a), ranks(b))
    }

    /// Ranks from 1, ties given the average of the ranks they span.
    public static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    public static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let n = Double(a.count)
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) {
            sab += (x - ma) * (y - mb)
            saa += (x - ma) * (x - ma)
            sbb += (y - mb) * (y - mb)
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
    }

    public static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
