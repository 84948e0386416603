import Foundation
import TopiaryCore
import TopiaryHardware

/// Before a search is stored: does anything in its space run on its target and meet its
/// constraints? Samples candidates uniformly and stops at the first that passes; when none
/// of `limit` does, says why (the commonest reason) and what to change. A search nothing can
/// satisfy is refused instead of starting and ending with zero trials.
public struct FeasibilityCheck: Sendable {
    public let space: SearchSpace
    public let target: String
    public let model: LatencyModel?
    public let constraints: [Constraint]
    public var limit = 10_000
    /// The check runs on the daemon's loop: it stops sampling after this long, whatever
    /// the count (about 10,000 candidates fit in it on a 2-core machine in a release build).
    public var maxSeconds = 2.0

    public init(space: SearchSpace, target: String, model: LatencyModel?, constraints: [Constraint]) {
        self.space = space
        self.target = target
        self.model = model
        self.constraints = constraints
    }

    /// What the sample found.
    public struct Outcome: Sendable, Equatable {
        /// Candidates drawn (up to the first feasible one).
        public var sampled = 0
        public var feasible = 0
        /// Candidates the target cannot run, by kind of reason (`precision`, `storage`,
        /// `activation memory`, `memory`), with one example each.
        public var infeasible: [String: Int] = [:]
        public var examples: [String: Infeasibility] = [:]
        /// Among those the target runs, how many each constraint turned away, and the
        /// loosest limit that would have let one through (the best figure seen).
        public var broken: [String: Int] = [:]
        public var bestFigure: [String: Double] = [:]
    }

    /// Samples with `seed` until one candidate passes or `limit` are drawn.
    public func run(seed: UInt64) -> Outcome {
        var out = Outcome()
        var rng = SeededGenerator(seed: seed ^ 0x5EED_FEA5)
        let started = Date()
        while out.sampled < limit && out.feasible == 0 {
            if out.sampled % 256 == 255 && Date().timeIntervalSince(started) > maxSeconds { break }
            out.sampled += 1
            let graph = NetworkGraph.build(compressed: space.sample(using: &rng), in: space)
            let cost = graph.cost()
            var latency: Double?
            if let model {
                let report = model.predict(graph)
                if !report.fits {
                    for p in report.problems {
                        out.infeasible[Self.kind(p), default: 0] += 1
                        if out.examples[Self.kind(p)] == nil { out.examples[Self.kind(p)] = p }
                    }
                    continue
                }
                latency = report.milliseconds
            }
            var admitted = true
            for c in constraints {
                guard let f = c.figure(cost, latencyMs: latency) else { continue }
                let key = c.description
                let best = out.bestFigure[key].map { c.atMost ? min($0, f) : max($0, f) } ?? f
                out.bestFigure[key] = best
                if !c.admits(cost, latencyMs: latency) {
                    out.broken[key, default: 0] += 1
                    admitted = false
                }
            }
            if admitted { out.feasible += 1 }
        }
        return out
    }

    /// Throws a `FeasibilityError` naming the reason and the fix when nothing sampled passed.
    public func check(seed: UInt64) throws(FeasibilityError) {
        let o = run(seed: seed)
        guard o.feasible == 0 else { return }
        throw FeasibilityError(Self.explain(o, target: target, constraints: constraints))
    }

    static func kind(_ p: Infeasibility) -> String {
        switch p {
        case .precisionUnsupported: return "precision"
        case .weightsExceedStorage: return "storage"
        case .activationsExceedMemory: return "activation memory"
        case .workingSetExceedsMemory: return "memory"
        }
    }

    /// One message: how many were sampled, the commonest reason, and what to change.
    static func explain(_ o: Outcome, target: String, constraints: [Constraint]) -> String {
        let n = Format.grouped(o.sampled)
        if let (kind, count) = o.infeasible.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }),
           count * 2 >= o.sampled || o.broken.isEmpty, let example = o.examples[kind] {
            var text = "0 of \(n) sampled candidates run on \(target): "
            switch example {
            case let .precisionUnsupported(_, _, supported):
                let bits = supported.map(\.bits).filter { $0 < 32 }.sorted()
                let only = supported.map(\.rawValue).joined(separator: ", ")
                text += "it runs only \(only)"
                if let b = bits.last {
                    text += " — allow weight_bits \(b) and activation_bits \(b) in the space's compression.quantization"
                } else {
                    text += " — allow those precisions in the space's compression.quantization"
                }
            case .weightsExceedStorage:
                text += "\(example) — narrow the space (fewer or narrower layers), or allow lower weight_bits or pruning"
            case .activationsExceedMemory:
                text += "\(example) — use a lower input resolution or narrower early layers, or allow activation_bits 8"
            case .workingSetExceedsMemory:
                text += "\(example) — allow smaller networks in the space, or lower weight_bits and activation_bits"
            }
            if count < o.sampled { text += " (\(Format.grouped(count)) of them for this reason)" }
            return text
        }
        // The target runs some; the constraints refuse them all.
        let runnable = o.sampled - o.infeasible.values.reduce(0, +)
        let (worst, _) = o.broken.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) } ?? ("", 0)
        var text = "0 of \(n) sampled candidates meet the constraints"
        if let c = constraints.first(where: { $0.description == worst }), let best = o.bestFigure[worst] {
            let name = c.metric.rawValue
            text += ": \(worst) refused \(Format.grouped(o.broken[worst] ?? 0)) of the \(Format.grouped(runnable)) the target runs"
            text += "; the \(c.atMost ? "smallest" : "largest") \(name) sampled is \(ChoiceValue.formatDouble(Self.round(best, up: c.atMost)))"
            text += " — \(c.atMost ? "raise" : "lower") the limit to about \(ChoiceValue.formatDouble(Self.round(best, up: c.atMost))) or "
            text += c.atMost ? "allow smaller networks or more compression in the space" : "allow larger networks in the space"
        }
        return text
    }

    /// Three significant digits, rounded away from the limit (so the suggested limit admits
    /// the best candidate seen).
    static func round(_ v: Double, up: Bool) -> Double {
        guard v > 0, v.isFinite else { return v }
        let scale = pow(10, Double(2 - Int(floor(log10(v)))))
        return (up ? (v * scale).rounded(.up) : (v * scale).rounded(.down)) / scale
    }
}

/// A search nothing in its space can satisfy on its target.
public struct FeasibilityError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }
}
