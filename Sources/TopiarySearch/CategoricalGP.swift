import Foundation
import TopiaryCore

/// A Gaussian process over candidates for Bayesian optimization: predicts a candidate's
/// value and how sure it is, from the completed trials.
///
/// Candidates are compared dimension by dimension (a dimension a candidate does not use
/// counts as one more value). With h the share of dimensions on which two candidates
/// differ, the kernel is
///
///     k(a, b) = (1 − mix) × (1 − h) + mix × exp(−h / lengthscale)
///
/// The first part is additive (each dimension's value adds its own amount: the one-hot
/// ridge model as a GP), the second lets neighbours share what the additive part cannot
/// explain (interactions). `mix`, `lengthscale` and the noise share are chosen by marginal
/// likelihood from a fixed grid, the signal variance in closed form, so nothing is set
/// per space: an additive landscape picks mix 0, a rugged one mix 1 and a short lengthscale.
struct CategoricalGP: Sendable {
    struct Hyper: Sendable, Equatable {
        var mix: Double
        var lengthscale: Double
        var noise: Double
    }

    /// The grid the hyperparameters are chosen from (mix 0 ignores the lengthscale).
    static let grid: [Hyper] = {
        var g: [Hyper] = []
        for noise in [0.01, 0.1, 0.3, 1] {
            g.append(Hyper(mix: 0, lengthscale: 1, noise: noise))
            for mix in [0.5, 1] { for l in [0.1, 0.3, 1] { g.append(Hyper(mix: mix, lengthscale: l, noise: noise)) } }
        }
        return g
    }()

    let dimensions: [Parameter]
    /// Value index per dimension of each training candidate (-1: not used).
    let codes: [[Int32]]
    let hyper: Hyper
    /// Cholesky factor of K + noise·I, and (K + noise·I)⁻¹ z.
    private let chol: [Double]
    private let alpha: [Double]
    private let z: [Double]
    /// The kernel by number of differing dimensions (0 through all of them).
    private let table: [Double]
    /// y = mean + sd · z; the process's variance in z units is `scale`.
    private let mean: Double
    private let sd: Double
    private let scale: Double

    /// Fits the process to `y` at `candidates`; `hyper` nil chooses it from the grid by
    /// marginal likelihood. Nil with fewer than 3 points or when no fit is positive definite.
    /// `selectOn`: choose the hyperparameters on at most this many of the points (nil: all).
    init?(dimensions: [Parameter], candidates: [Candidate], y: [Double], hyper fixed: Hyper? = nil,
          selectOn: Int? = nil) {
        let n = y.count
        guard n >= 3, candidates.count == n else { return nil }
        self.dimensions = dimensions
        let codes = candidates.map { Self.code($0, dimensions) }
        self.codes = codes
        // Pairs differ on a whole number of dimensions: the kernel is looked up by that number.
        var differ = [Int32](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<i {
                let h = Int32(Self.differing(codes[i], codes[j]))
                differ[i * n + j] = h
                differ[j * n + i] = h
            }
        }
        let mu = y.reduce(0, +) / Double(n)
        let sd = max((y.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(n)).squareRoot(), 1e-12)
        let z = y.map { ($0 - mu) / sd }
        let grid = fixed.map { [$0] } ?? Self.grid
        var candidatesToTry = grid
        if grid.count > 1, let m = selectOn, n > m {
            // Chosen on m points spread evenly over the order given, so the grid costs a
            // bounded amount; then one fit of all the points with the choice.
            let idx = (0..<m).map { $0 * n / m }
            let k = idx.count
            var sub = [Int32](repeating: 0, count: k * k)
            for r in 0..<k { for c in 0..<k { sub[r * k + c] = differ[idx[r] * n + idx[c]] } }
            let subZ = idx.map { z[$0] }
            var chosen: (ll: Double, hyper: Hyper)?
            for h in grid {
                guard let f = Self.fitOne(h, sub, k, subZ, dimensions.count) else { continue }
                if chosen == nil || f.ll > chosen!.ll { chosen = (f.ll, h) }
            }
            if let chosen { candidatesToTry = [chosen.hyper] }
        }
        var best: (ll: Double, hyper: Hyper, chol: [Double], alpha: [Double], scale: Double)?
        for pass in [candidatesToTry, grid] where best == nil {
            for h in pass {
                guard let f = Self.fitOne(h, differ, n, z, dimensions.count) else { continue }
                if best == nil || f.ll > best!.ll { best = (f.ll, h, f.chol, f.alpha, f.scale) }
            }
            if pass.count == grid.count { break }
        }
        guard let best else { return nil }
        hyper = best.hyper
        table = Self.kernelTable(best.hyper, dimensions.count)
        chol = best.chol
        alpha = best.alpha
        self.z = z
        mean = mu
        self.sd = sd
        scale = best.scale
    }

    /// One fit: the Cholesky factor of K + noise·I, (K + noise·I)⁻¹ z, the profile log
    /// likelihood (the signal variance at its maximum, zᵀ(K + noise·I)⁻¹z / n) and that
    /// variance; nil when the matrix is not positive definite.
    static func fitOne(_ h: Hyper, _ differ: [Int32], _ n: Int, _ z: [Double], _ dimensions: Int)
        -> (ll: Double, chol: [Double], alpha: [Double], scale: Double)? {
        let table = kernelTable(h, dimensions)
        var a = differ.map { table[Int($0)] }
        for i in 0..<n { a[i * n + i] = 1 + h.noise }
        guard let l = cholesky(a, n) else { return nil }
        let alpha = choleskySolve(l, n, z)
        let quad = max(zip(z, alpha).reduce(0) { $0 + $1.0 * $1.1 }, 1e-12)
        var logdet = 0.0
        for i in 0..<n { logdet += Foundation.log(l[i * n + i]) }
        return (-0.5 * Double(n) * Foundation.log(quad / Double(n)) - logdet, l, alpha, quad / Double(n))
    }

    static func kernel(_ h: Hyper, _ share: Double) -> Double {
        (1 - h.mix) * (1 - share) + h.mix * Foundation.exp(-share / h.lengthscale)
    }

    static func kernelTable(_ h: Hyper, _ dimensions: Int) -> [Double] {
        let d = Double(max(dimensions, 1))
        return (0...max(dimensions, 0)).map { kernel(h, Double($0) / d) }
    }

    static func code(_ c: Candidate, _ dimensions: [Parameter]) -> [Int32] {
        dimensions.map { d in Int32(c.choices[d.name].flatMap { d.index(of: $0) } ?? -1) }
    }

    static func differing(_ a: [Int32], _ b: [Int32]) -> Int {
        var n = 0
        for k in 0..<a.count where a[k] != b[k] { n += 1 }
        return n
    }

    var count: Int { codes.count }

    /// Posterior mean and standard deviation of the candidate's value (without the noise of
    /// a new evaluation), in the units of y.
    func predict(_ c: Candidate) -> (mean: Double, sd: Double) {
        predict(code: Self.code(c, dimensions))
    }

    func predict(code x: [Int32]) -> (mean: Double, sd: Double) {
        let n = count
        var m = 0.0
        var vv = 0.0
        // v = L⁻¹ k (k: covariances with the training candidates); variance = 1 − vᵀv.
        var v = codes.map { table[Self.differing(x, $0)] }
        v.withUnsafeMutableBufferPointer { v in
            chol.withUnsafeBufferPointer { chol in
                alpha.withUnsafeBufferPointer { alpha in
                    for i in 0..<n { m += v[i] * alpha[i] }
                    for i in 0..<n {
                        var s = v[i]
                        for j in 0..<i { s -= chol[i * n + j] * v[j] }
                        v[i] = s / chol[i * n + i]
                        vv += v[i] * v[i]
                    }
                }
            }
        }
        let variance = max(scale * (1 - vv), 0)
        return (mean + sd * m, sd * variance.squareRoot())
    }

    /// Posterior means at the training candidates, in their order: each observation pulled
    /// toward what the model makes of its neighbours (the noise discounted).
    var fittedMeans: [Double] {
        // K α = (K + noise·I) α − noise·α = z − noise·α.
        zip(z, alpha).map { mean + sd * ($0 - hyper.noise * $1) }
    }
}

/// Expected improvement over `best` of a value predicted as N(mean, sd²), for maximization.
func expectedImprovement(mean: Double, sd: Double, best: Double) -> Double {
    let gain = mean - best
    guard sd > 1e-12 else { return max(gain, 0) }
    let u = gain / sd
    let cdf = 0.5 * erfc(-u / 2.0.squareRoot())
    let pdf = Foundation.exp(-0.5 * u * u) / (2 * Double.pi).squareRoot()
    return gain * cdf + sd * pdf
}
