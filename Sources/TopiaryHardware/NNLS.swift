/// Non-negative least squares: the x ≥ 0 that minimises ‖A x − b‖₂, by the active-set
/// method of Lawson and Hanson (Solving Least Squares Problems, 1974, chapter 23).
public enum NNLS {
    /// The solution and how it was reached.
    public struct Solution: Sendable, Equatable {
        public var x: [Double]
        /// ‖A x − b‖₂ at the solution.
        public var residualNorm: Double
        public var iterations: Int
    }

    /// Solves for `a`, an `m`-row matrix given as rows of equal length `n`, and `b` of
    /// length `m`. Stops after `maxIterations` outer steps (3n by default).
    public static func solve(_ a: [[Double]], _ b: [Double], maxIterations: Int? = nil) -> Solution {
        let m = a.count
        precondition(b.count == m, "NNLS: b has \(b.count) entries for \(m) rows")
        let n = a.first?.count ?? 0
        precondition(a.allSatisfy { $0.count == n }, "NNLS: rows of unequal length")
        var x = [Double](repeating: 0, count: n)
        guard n > 0, m > 0 else { return Solution(x: x, residualNorm: norm(b), iterations: 0) }
        let scale = a.reduce(0.0) { acc, row in row.reduce(acc) { max($0, abs($1)) } } * b.reduce(0.0) { max($0, abs($1)) }
        let tol = 1e-12 * max(scale, 1e-300) * Double(max(m, n))
        var passive = [Bool](repeating: false, count: n)
        var iterations = 0
        let limit = maxIterations ?? 3 * n

        func gradient() -> [Double] {
            var r = b
            for i in 0..<m { for j in 0..<n where x[j] != 0 { r[i] -= a[i][j] * x[j] } }
            var w = [Double](repeating: 0, count: n)
            for i in 0..<m { for j in 0..<n { w[j] += a[i][j] * r[i] } }
            return w
        }

        var w = gradient()
        var blocked = [Bool](repeating: false, count: n)
        outer: while iterations < limit {
            var t = -1
            var bestW = tol
            for j in 0..<n where !passive[j] && !blocked[j] && w[j] > bestW {
                t = j
                bestW = w[j]
            }
            if t < 0 { break }
            iterations += 1
            passive[t] = true
            var firstStep = true
            while true {
                let cols = (0..<n).filter { passive[$0] }
                let zP = leastSquares(a, b, columns: cols)
                var z = [Double](repeating: 0, count: n)
                for (k, j) in cols.enumerated() { z[j] = zP[k] }
                if firstStep && z[t] <= 0 {
                    // Rounding made the chosen variable useless: leave it out until x moves.
                    passive[t] = false
                    blocked[t] = true
                    continue outer
                }
                firstStep = false
                if cols.allSatisfy({ z[$0] > 0 }) {
                    x = z
                    break
                }
                // Step from x toward z as far as feasibility allows, then drop the
                // variables that reached zero.
                var alpha = 1.0
                for j in cols where z[j] <= 0 {
                    let d = x[j] - z[j]
                    if d > 0 { alpha = min(alpha, x[j] / d) }
                }
                for j in 0..<n { x[j] += alpha * (z[j] - x[j]) }
                let xScale = x.reduce(0) { max($0, abs($1)) }
                for j in cols where z[j] <= 0 && x[j] <= 1e-12 * xScale {
                    x[j] = 0
                    passive[j] = false
                }
                if !passive.contains(true) { break }
            }
            blocked = [Bool](repeating: false, count: n)
            w = gradient()
        }
        var r = b
        for i in 0..<m { for j in 0..<n { r[i] -= a[i][j] * x[j] } }
        return Solution(x: x, residualNorm: norm(r), iterations: iterations)
    }

    /// Unconstrained least squares on a subset of columns, by Householder QR. Columns
    /// that are (numerically) dependent on earlier ones get 0.
    public static func leastSquares(_ a: [[Double]], _ b: [Double], columns: [Int]) -> [Double] {
        let m = a.count, k = columns.count
        if k == 0 { return [] }
        var r = [Double](repeating: 0, count: m * k)  // column-major m x k
        for (c, j) in columns.enumerated() { for i in 0..<m { r[c * m + i] = a[i][j] } }
        var y = b
        var rank = [Bool](repeating: true, count: k)
        let maxNorm = (0..<k).map { c in norm(Array(r[(c * m)..<((c + 1) * m)])) }.max() ?? 0
        for c in 0..<min(k, m) {
            var s = 0.0
            for i in c..<m { s += r[c * m + i] * r[c * m + i] }
            let alpha = s.squareRoot()
            if alpha <= 1e-12 * max(maxNorm, 1e-300) {
                rank[c] = false
                continue
            }
            let sign: Double = r[c * m + c] >= 0 ? 1 : -1
            var v = [Double](repeating: 0, count: m)
            for i in c..<m { v[i] = r[c * m + i] }
            v[c] += sign * alpha
            var vv = 0.0
            for i in c..<m { vv += v[i] * v[i] }
            if vv == 0 { continue }
            for cc in c..<k {
                var d = 0.0
                for i in c..<m { d += v[i] * r[cc * m + i] }
                let f = 2 * d / vv
                for i in c..<m { r[cc * m + i] -= f * v[i] }
            }
            var d = 0.0
            for i in c..<m { d += v[i] * y[i] }
            let f = 2 * d / vv
            for i in c..<m { y[i] -= f * v[i] }
        }
        if k > m { for c in m..<k { rank[c] = false } }
        var x = [Double](repeating: 0, count: k)
        for c in stride(from: min(k, m) - 1, through: 0, by: -1) where rank[c] {
            var s = y[c]
            for cc in (c + 1)..<k where rank[cc] && cc < m { s -= r[cc * m + c] * x[cc] }
            x[c] = s / r[c * m + c]
        }
        return x
    }

    static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
