import Foundation
import TopiaryCore
@testable import TopiarySearch

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func loadSpace(_ name: String) throws -> SearchSpace {
    try SearchSpace.load(path: repoRoot.appendingPathComponent("SearchSpaces/\(name).yaml").path)
}

/// A strategy and options, as the daemon would name them.
struct Config: Sendable, CustomStringConvertible {
    var name: String
    var options: String
    var description: String { options.isEmpty ? name : "\(name)(\(options))" }

    static let all: [Config] = [
        Config(name: "random", options: ""),
        Config(name: "evolution", options: ""),
        Config(name: "evolution", options: "candidates=1,exploit=0,smoothing=0,population=8,sample=3"),
        Config(name: "tpe", options: ""),
        Config(name: "tpe", options: "startup=3,candidates=8"),
        Config(name: "tpe", options: "startup=3,smoothing=1"),
        Config(name: "bo", options: ""),
        Config(name: "bo", options: "startup=3,pool=16,parents=2,neighbours=4,smoothing=0.5"),
        Config(name: "nsga2", options: ""),
        Config(name: "nsga2", options: "acquisition=dominance,candidates=8"),
        Config(name: "asha", options: "min_fidelity=1"),
        Config(name: "asha", options: "min_fidelity=1,mode=stop"),
        Config(name: "asha", options: "min_fidelity=1,sampler=tpe"),
        Config(name: "asha", options: "min_fidelity=1,mode=stop,sampler=tpe"),
    ]

    func make(_ problem: SearchProblem, history: [Trial] = []) throws -> any SearchStrategy {
        try Strategies.make(name, options: try StrategyOptions(text: options), problem: problem, history: history)
    }
}

/// A deterministic stand-in for training: each choice of each dimension adds a fixed amount
/// (from a hash of its name, never Swift's per-process seeded `hashValue`), plus a pairwise
/// term, so the landscape has structure but also interactions.
struct SyntheticObjective: Sendable {
    let space: SearchSpace

    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    static func unit(_ s: String) -> Double { Double(hash(s) >> 11) * 0x1.0p-53 }

    /// The true value of a candidate, about 50–100.
    func value(_ c: Candidate) -> Double {
        let keys = c.choices.keys.sorted()
        var v = 60.0
        for k in keys { v += 4 * Self.unit("\(k)=\(c.choices[k]!)") }
        for (a, b) in zip(keys, keys.dropFirst()) {
            v += 1.5 * (Self.unit("\(a)=\(c.choices[a]!)|\(b)=\(c.choices[b]!)") - 0.5)
        }
        return v
    }

    /// A noisy observation: the true value plus noise from (candidate, fidelity, salt).
    func observe(_ c: Candidate, fidelity: Double, noise: Double, salt: UInt64) -> Double {
        var g = SeededGenerator(seed: Self.hash(c.id) ^ salt ^ UInt64(fidelity * 1000))
        let u = g.unit() + g.unit() + g.unit() - 1.5
        return value(c) * (fidelity / (fidelity + 1)) + noise * u * 2
    }
}

/// Drives a strategy like the daemon: `workers` slots, trials finishing in a seeded random
/// order, progress reports at integer steps (a trial the strategy stops is told `.stopped`).
/// Records every suggestion, and the stop decisions.
struct Simulator {
    let objective: SyntheticObjective
    var workers = 3
    var noise = 1.0
    var order: SeededGenerator
    var running: [TrialKey] = []
    var suggested: [Suggestion] = []
    var stopped: [TrialKey] = []

    init(space: SearchSpace, seed: UInt64, workers: Int = 3) {
        objective = SyntheticObjective(space: space)
        order = SeededGenerator(seed: seed ^ 0xFEED)
        self.workers = workers
    }

    /// Runs until `trials` trials were suggested (or the strategy runs dry) and all finished
    /// when `drain` is true.
    mutating func run(_ s: inout any SearchStrategy, trials: Int, drain: Bool = true) throws {
        while true {
            while running.count < workers && suggested.count < trials {
                guard let sug = s.suggest(count: 1).first else { break }
                suggested.append(sug)
                running.append(sug.key)
            }
            if running.isEmpty || (!drain && suggested.count >= trials) { return }
            try finishOne(&s)
        }
    }

    mutating func finishOne(_ s: inout any SearchStrategy) throws {
        let key = running.remove(at: order.index(below: running.count))
        let c = s.history[key]!.candidate
        var step = 1.0
        while step <= key.fidelity {
            let acc = objective.observe(c, fidelity: step, noise: noise, salt: 7)
            if try s.report(key, ProgressReport(step: step, metrics: ["accuracy": acc])) {
                stopped.append(key)
                try s.tell(key, .stopped)
                return
            }
            step += 1
        }
        try s.tell(key, .completed(["accuracy": objective.observe(c, fidelity: key.fidelity, noise: noise, salt: 7)]))
    }
}

func problem(_ space: SearchSpace, seed: UInt64, objectives: [SearchObjective] = [.accuracy, .macs],
             constraint: (@Sendable (Candidate) -> Bool)? = nil) -> SearchProblem {
    SearchProblem(space: space, seed: seed, fidelity: 9, objectives: objectives, constraint: constraint,
                  predictor: CostFigures.predictor(space: space))
}
