import Foundation
import TopiaryCore

/// One-hot features of a candidate: one slot per choice of every dimension (all zero when
/// the dimension does not take part), plus a constant.
struct CandidateEncoding: Sendable {
    let dimensions: [Parameter]
    let offsets: [Int]
    let width: Int

    init(_ space: SearchSpace) {
        dimensions = space.dimensions
        var o: [Int] = []
        var w = 1
        for d in dimensions {
            o.append(w)
            w += d.choices.count
        }
        offsets = o
        width = w
    }

    /// Indices of the features that are 1.
    func active(_ c: Candidate) -> [Int] {
        var out = [0]
        out.reserveCapacity(dimensions.count + 1)
        for (d, o) in zip(dimensions, offsets) {
            if let v = c.choices[d.name], let i = d.index(of: v) { out.append(o + i) }
        }
        return out
    }
}

/// A cheap model of a scalar outcome fitted to the history: Bayesian ridge regression on
/// one-hot features (each choice of each dimension adds its own amount). The ridge
/// strength is chosen by generalized cross-validation from a fixed grid, so nothing is
/// tuned to a space. Used to pick among several mutants (surrogate-assisted evolution,
/// NSGA-II) and to see through evaluation noise when naming the best trial.
struct LinearSurrogate: Sendable {
    let encoding: CandidateEncoding
    private(set) var weights: [Double]
    /// A⁻¹ = (XᵀX + λI)⁻¹, for predictive variance and leverage.
    private var inverse: [Double]
    private(set) var noiseVariance: Double
    private(set) var lambda: Double
    private let mean: Double

    static let lambdas: [Double] = [0.1, 0.3, 1, 3, 10]

    /// Fits `y` on the candidates; nil with fewer than 3 points.
    init?(encoding: CandidateEncoding, candidates: [Candidate], y: [Double]) {
        let n = y.count
        guard n >= 3, candidates.count == n else { return nil }
        let d = encoding.width
        let rows = candidates.map(encoding.active)
        let mu = y.reduce(0, +) / Double(n)
        let yc = y.map { $0 - mu }
        var gram = [Double](repeating: 0, count: d * d)
        var xty = [Double](repeating: 0, count: d)
        for (r, v) in zip(rows, yc) {
            for a in r {
                xty[a] += v
                for b in r { gram[a * d + b] += 1 }
            }
        }
        var best: (gcv: Double, w: [Double], inv: [Double], sigma2: Double, lambda: Double)?
        for lambda in Self.lambdas {
            var a = gram
            for i in 1..<d { a[i * d + i] += lambda }
            a[0] += 1e-9
            guard let inv = invertSPD(a, d) else { continue }
            var w = [Double](repeating: 0, count: d)
            for i in 0..<d {
                var s = 0.0
                for j in 0..<d { s += inv[i * d + j] * xty[j] }
                w[i] = s
            }
            var rss = 0.0
            var trace = 0.0
            for (r, v) in zip(rows, yc) {
                var p = 0.0
                for a in r { p += w[a] }
                rss += (v - p) * (v - p)
                for a in r { for b in r { trace += inv[a * d + b] } }
            }
            let dof = Double(n) - trace
            guard dof > 0.5 else { continue }
            let gcv = Double(n) * rss / (dof * dof)
            if best == nil || gcv < best!.gcv { best = (gcv, w, inv, rss / dof, lambda) }
        }
        guard let best else { return nil }
        self.encoding = encoding
        weights = best.w
        inverse = best.inv
        noiseVariance = max(best.sigma2, 1e-12)
        lambda = best.lambda
        mean = mu
    }

    /// Predicted mean and standard deviation (of the mean, not of a new observation).
    func predict(_ c: Candidate) -> (mean: Double, sd: Double) {
        let r = encoding.active(c)
        var p = mean
        for a in r { p += weights[a] }
        let d = encoding.width
        var q = 0.0
        for a in r { for b in r { q += inverse[a * d + b] } }
        return (p, (noiseVariance * max(q, 0)).squareRoot())
    }

    /// Leave-one-out prediction of a training point: what the other points say about it.
    func leaveOneOut(_ c: Candidate, observed y: Double) -> Double {
        let r = encoding.active(c)
        var p = mean
        for a in r { p += weights[a] }
        let d = encoding.width
        var h = 0.0
        for a in r { for b in r { h += inverse[a * d + b] } }
        guard h < 0.999 else { return p }
        return y - (y - p) / (1 - h)
    }
}

/// Inverse of a symmetric positive-definite d×d matrix (row-major) by Cholesky; nil if not SPD.
func invertSPD(_ a: [Double], _ d: Int) -> [Double]? {
    guard let l = cholesky(a, d) else { return nil }
    // Inverse of L (lower triangular), then A⁻¹ = L⁻ᵀ L⁻¹.
    var li = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
        li[i * d + i] = 1 / l[i * d + i]
        for j in 0..<i {
            var s = 0.0
            for k in j..<i { s -= l[i * d + k] * li[k * d + j] }
            li[i * d + j] = s / l[i * d + i]
        }
    }
    var inv = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
        for j in 0...i {
            var s = 0.0
            for k in i..<d { s += li[k * d + i] * li[k * d + j] }
            inv[i * d + j] = s
            inv[j * d + i] = s
        }
    }
    return inv
}

/// A Gaussian process over candidates with an exponential Hamming kernel,
/// k(a, b) = exp(-differing dimensions / (lengthscale × dimensions)), on standardized
/// values; the lengthscale and the noise share are chosen by marginal likelihood from a
/// fixed grid. Its posterior mean at the evaluated candidates is what they are worth once
/// the noise of single evaluations is discounted: each is pulled toward what its
/// neighbours scored.
struct HammingGP: Sendable {
    /// Posterior means at the training candidates, in their order.
    let smoothed: [Double]
    let lengthscale: Double
    let noise: Double

    static let lengthscales: [Double] = [0.05, 0.1, 0.2, 0.4, 0.8]
    static let noises: [Double] = [0.03, 0.1, 0.3, 1]

    init?(encoding: CandidateEncoding, candidates: [Candidate], y: [Double]) {
        let n = y.count
        guard n >= 3 else { return nil }
        let dims = encoding.dimensions.count
        let codes = candidates.map { c in encoding.dimensions.map { d in c.choices[d.name].flatMap { d.index(of: $0) } ?? -1 } }
        var hamming = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<i {
                var h = 0
                for k in 0..<dims where codes[i][k] != codes[j][k] { h += 1 }
                hamming[i * n + j] = Double(h) / Double(max(dims, 1))
                hamming[j * n + i] = hamming[i * n + j]
            }
        }
        let mu = y.reduce(0, +) / Double(n)
        let sd = max((y.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(n)).squareRoot(), 1e-12)
        let z = y.map { ($0 - mu) / sd }
        var best: (ll: Double, alpha: [Double], l: Double, nz: Double, kernel: [Double])?
        for l in Self.lengthscales {
            let kernel = hamming.map { Foundation.exp(-$0 / l) }
            for nz in Self.noises {
                var a = kernel
                for i in 0..<n { a[i * n + i] += nz }
                guard let chol = cholesky(a, n) else { continue }
                let alpha = choleskySolve(chol, n, z)
                var logdet = 0.0
                for i in 0..<n { logdet += Foundation.log(chol[i * n + i]) }
                let ll = -0.5 * zip(z, alpha).reduce(0) { $0 + $1.0 * $1.1 } - logdet
                if best == nil || ll > best!.ll { best = (ll, alpha, l, nz, kernel) }
            }
        }
        guard let best else { return nil }
        var m = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = 0.0
            for j in 0..<n { s += best.kernel[i * n + j] * best.alpha[j] }
            m[i] = mu + sd * s
        }
        smoothed = m
        lengthscale = best.l
        noise = best.nz
    }
}

/// Lower Cholesky factor of a symmetric positive-definite n×n matrix; nil if not SPD.
/// (Raw buffers: the strategies factor one per suggestion, and checked indexing made it the
/// cost of a debug-built daemon.)
func cholesky(_ a: [Double], _ n: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: n * n)
    let ok = l.withUnsafeMutableBufferPointer { l in
        a.withUnsafeBufferPointer { a in
            for i in 0..<n {
                for j in 0...i {
                    var s = a[i * n + j]
                    for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                    if i == j {
                        guard s > 1e-12 else { return false }
                        l[i * n + i] = s.squareRoot()
                    } else {
                        l[i * n + j] = s / l[j * n + j]
                    }
                }
            }
            return true
        }
    }
    return ok ? l : nil
}

/// Solves (L Lᵀ) x = b.
func choleskySolve(_ l: [Double], _ n: Int, _ b: [Double]) -> [Double] {
    var y = b
    for i in 0..<n {
        var s = y[i]
        for k in 0..<i { s -= l[i * n + k] * y[k] }
        y[i] = s / l[i * n + i]
    }
    for i in stride(from: n - 1, through: 0, by: -1) {
        var s = y[i]
        for k in (i + 1)..<max(n, i + 1) { s -= l[k * n + i] * y[k] }
        y[i] = s / l[i * n + i]
    }
    return y
}
