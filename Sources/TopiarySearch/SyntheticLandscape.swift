import Foundation
import TopiaryCore

/// A synthetic accuracy landscape over a real space's dimensions, for choosing strategy
/// defaults on benchmarks other than the one they are judged on.
///
/// A candidate's value is `offset + Σ_d a_d(x_d) + Σ_(i,j) b_ij(x_i, x_j)`: one additive effect
/// per dimension and value (a dimension the candidate does not use, such as a block beyond its
/// stage's depth, takes an extra "absent" value with its own effect) plus pairwise interaction
/// tables. Dimensions differ in importance (log-normal weights); numeric dimensions (widths,
/// depths, bits) get monotone effects more often than not, as in real networks; interacting
/// pairs are mostly neighbours. The interaction part is scaled to `interaction` times the
/// additive part's standard deviation; the whole to mean 90 and standard deviation 2 over
/// random candidates ("accuracy" points). The k-th evaluation of a candidate in seed s
/// observes the value plus Gaussian noise of `noise` × 2 points, drawn from a SplitMix64 hash
/// of (s, candidate key, k) that bench/optuna_baseline.py computes identically from the
/// landscape's JSON (`json()`), which also carries check values the script verifies.
/// `topiary-bench suite` builds its benchmarks from these; nothing in a search uses them.
public struct SyntheticLandscape: Sendable {
    public struct Dimension: Sendable {
        public var parameter: Parameter
        /// Active when any of these (dimension, allowed value indices, active-when-absent) holds;
        /// nil: always.
        public var condition: [(dim: Int, allowed: [Int], whenAbsent: Bool)]?
    }

    public struct Pair: Sendable {
        public var i: Int
        public var j: Int
        /// (k_i + 1) × (k_j + 1), the last row/column for "absent".
        public var table: [[Double]]
    }

    public let name: String
    public let space: SearchSpace
    public let dims: [Dimension]
    public private(set) var offset = 0.0
    public private(set) var additive: [[Double]]
    public private(set) var pairs: [Pair]
    /// Observation noise as a share of the landscape's standard deviation.
    public let noise: Double

    public static let mean = 90.0
    public static let sd = 2.0

    /// A landscape of `space` drawn from `seed`: `interaction` is the interaction part's
    /// standard deviation relative to the additive part's, `noise` the observation noise's
    /// relative to the landscape's.
    public init(name: String, space: SearchSpace, interaction: Double, noise: Double, seed: UInt64) throws(StrategyError) {
        self.name = name
        self.space = space
        self.noise = noise
        let params = space.parameters.filter { !$0.isFixed }
        let position = Dictionary(uniqueKeysWithValues: params.enumerated().map { ($1.name, $0) })
        dims = try params.map { (p) throws(StrategyError) -> Dimension in
            guard let c = p.condition else { return Dimension(parameter: p, condition: nil) }
            return Dimension(parameter: p, condition: try Self.resolve(c, position, space))
        }
        var rng = SeededGenerator(seed: seed ^ 0x1A2D_5CA9_E000_0000)
        additive = params.map { p in
            let k = p.choices.count
            let weight = exp(0.8 * rng.gaussian())
            var effects = (0...k).map { _ in rng.gaussian() }
            let numeric = p.choices.allSatisfy { $0.doubleValue != nil || $0.boolValue != nil }
            if numeric && k >= 2 && rng.chance(0.6) {
                // Monotone in the value: sorted steps, increasing or decreasing.
                let order = p.choices.indices.sorted { Self.number(p.choices[$0]) < Self.number(p.choices[$1]) }
                var level = 0.0
                let up = rng.chance(0.7)
                for i in order {
                    effects[i] = up ? level : -level
                    level += abs(rng.gaussian())
                }
            }
            return effects.map { $0 * weight }
        }
        pairs = []
        let d = params.count
        if d >= 2 && interaction > 0 {
            for _ in 0..<d {
                let i = rng.index(below: d)
                var j = rng.chance(0.5) ? i + 1 + rng.index(below: 2) : rng.index(below: d)
                if j >= d || j == i { j = (i + 1) % d }
                let (a, b) = (min(i, j), max(i, j))
                let weight = exp(0.8 * rng.gaussian())
                let table = (0...params[a].choices.count).map { _ in (0...params[b].choices.count).map { _ in rng.gaussian() * weight } }
                pairs.append(Pair(i: a, j: b, table: table))
            }
        }
        // Scale: interactions relative to the additive part, then the whole to 90 ± 2.
        let sample = space.sample(count: 4_000, seed: seed ^ 0x5A3F)
        let keys = sample.map { indices(of: $0) }
        let addSD = Self.sd(keys.map { additivePart($0) })
        let pairSD = Self.sd(keys.map { pairPart($0) })
        if pairSD > 0 && addSD > 0 {
            let f = interaction * addSD / pairSD
            for p in pairs.indices { pairs[p].table = pairs[p].table.map { $0.map { $0 * f } } }
        }
        let raw = keys.map { additivePart($0) + pairPart($0) }
        let m = raw.reduce(0, +) / Double(raw.count)
        let s = max(Self.sd(raw), 1e-12)
        additive = additive.map { $0.map { $0 * Self.sd / s } }
        for p in pairs.indices { pairs[p].table = pairs[p].table.map { $0.map { $0 * Self.sd / s } } }
        offset = Self.mean - m * Self.sd / s
    }

    /// The candidate's value index per dimension; nil where it does not use the dimension.
    public func indices(of c: Candidate) -> [Int?] {
        dims.map { d in c.choices[d.parameter.name].flatMap { d.parameter.index(of: $0) } }
    }

    /// The key both programs count evaluations by: value indices joined by ",", "-" for absent.
    public func key(_ x: [Int?]) -> String { x.map { $0.map(String.init) ?? "-" }.joined(separator: ",") }

    public func value(_ c: Candidate) -> Double { value(indices(of: c)) }

    public func value(_ x: [Int?]) -> Double { offset + additivePart(x) + pairPart(x) }

    /// The k-th observation of the candidate in seed `seed`.
    public func observe(_ c: Candidate, seed: UInt64, k: Int) -> Double {
        let x = indices(of: c)
        return value(x) + noise * Self.sd * Self.noiseDraw(seed: seed, key: key(x), k: k)
    }

    private func additivePart(_ x: [Int?]) -> Double {
        var s = 0.0
        for (d, v) in x.enumerated() { s += additive[d][v ?? dims[d].parameter.choices.count] }
        return s
    }

    private func pairPart(_ x: [Int?]) -> Double {
        var s = 0.0
        for p in pairs {
            s += p.table[x[p.i] ?? dims[p.i].parameter.choices.count][x[p.j] ?? dims[p.j].parameter.choices.count]
        }
        return s
    }

    /// A standard normal draw from (seed, key, k): Box–Muller over two SplitMix64 outputs.
    public static func noiseDraw(seed: UInt64, key: String, k: Int) -> Double {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let state = (seed &* 0x9E37_79B9_7F4A_7C15) ^ (h &* 0xD1B5_4A32_D192_ED03) ^ UInt64(k)
        let u1 = (Double(splitmix(state) >> 11) + 0.5) * 0x1.0p-53
        let u2 = Double(splitmix(state ^ 0x5851_F42D_4C95_7F2D) >> 11) * 0x1.0p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    static func splitmix(_ s: UInt64) -> UInt64 {
        var z = s &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A space condition as value-index sets over earlier dimensions (fixed controllers are
    /// evaluated here).
    private static func resolve(_ c: Condition, _ position: [String: Int], _ space: SearchSpace) throws(StrategyError) -> [(dim: Int, allowed: [Int], whenAbsent: Bool)]? {
        let test: (ChoiceValue?) -> Bool
        let names: [String]
        switch c {
        case let .atLeast(p, n): names = [p]; test = { ($0?.intValue ?? 0) >= n }
        case let .notEqual(p, v): names = [p]; test = { !($0?.matches(v) ?? false) }
        case let .anyAtMost(ps, n): names = ps; test = { ($0?.intValue ?? Int.max) <= n }
        }
        var out: [(Int, [Int], Bool)] = []
        for n in names {
            guard let p = space.parameter(named: n) else { throw .unsuitable(strategy: "landscape", reason: "a condition names the unknown parameter \(n)") }
            if p.isFixed {
                if test(p.choices[0]) { return nil }  // always holds
                continue
            }
            out.append((position[n]!, p.choices.indices.filter { test(p.choices[$0]) }, test(nil)))
        }
        return out
    }

    private static func number(_ v: ChoiceValue) -> Double { v.doubleValue ?? (v.boolValue == true ? 1 : 0) }

    static func sd(_ v: [Double]) -> Double {
        let m = v.reduce(0, +) / Double(max(1, v.count))
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, v.count))).squareRoot()
    }

    /// The landscape for bench/optuna_baseline.py `--landscape`, with values of 20 random
    /// candidates and one noisy draw for the script to check its reading against.
    public func json() -> Data {
        try! JSONSerialization.data(withJSONObject: jsonObject(), options: [.sortedKeys])
    }

    /// What `json()` writes, for files that embed a landscape (the two-objective suite's).
    public func jsonObject() -> [String: Any] {
        var checks: [[String: Any]] = []
        for c in space.sample(count: 20, seed: 77) {
            let x = indices(of: c)
            checks.append(["key": key(x), "value": value(x), "noise_s3_k1": Self.noiseDraw(seed: 3, key: key(x), k: 1)])
        }
        let object: [String: Any] = [
            "name": name, "space": space.name, "offset": offset, "noise_sd": noise * Self.sd,
            "dims": dims.map { d -> [String: Any] in
                var o: [String: Any] = ["name": d.parameter.name, "labels": d.parameter.choices.map(\.description)]
                if let cond = d.condition {
                    o["active_if_any"] = cond.map { ["dim": $0.dim, "allowed": $0.allowed, "when_absent": $0.whenAbsent] }
                }
                return o
            },
            "additive": additive,
            "pairs": pairs.map { ["i": $0.i, "j": $0.j, "table": $0.table] },
            "checks": checks,
        ]
        return object
    }
}

extension SeededGenerator {
    /// A standard normal draw (Box–Muller).
    public mutating func gaussian() -> Double {
        let u1 = unit() + 0x1.0p-54
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * unit())
    }
}
