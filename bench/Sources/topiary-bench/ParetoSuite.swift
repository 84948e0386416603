import Foundation
import TopiaryCore
import TopiarySearch

/// The strategy suite in two objectives (accuracy up, cost down), against Optuna's
/// multi-objective TPE and NSGA-II run by bench/optuna_pareto.py in the same command, with the
/// same seeds and noise draws.
///
///     topiary-bench pareto-suite [--seeds 30] [--budgets 25,50,100,200]
///                                [--config LABEL=STRATEGY:key=value,...]... [--only LABEL,...]
///                                [--benchmarks NAME,...] [--optuna-samplers tpe,nsga2]
///                                [--python PATH | --no-optuna]
///
/// Benchmarks: NAS-Bench-Macro's table (accuracy, FLOPs) and, for each of the four spaces and
/// three families of the single-objective suite, its accuracy landscape paired with a cost
/// (`SyntheticTradeOff`): a positive figure correlated with accuracy, as MACs or latency are, and
/// known before training as they are (Topiary's strategies read it from the problem's
/// predictor; Optuna learns it from results, as it would MACs). Score: the hypervolume of the
/// true (accuracy, cost) points of the observed non-dominated set after each budget (Optuna:
/// `study.best_trials`), divided by the hypervolume of the front of 20,000 random candidates
/// (landscapes) or of the table's true front (NAS-Bench-Macro). Defaults are judged by leave one
/// benchmark out against the better of Optuna's two samplers on each (benchmark, budget).
enum ParetoSuite {
    struct Benchmark: Sendable {
        /// The accuracy side: the single-objective suite's benchmark of the same name.
        let accuracy: StrategySuite.Benchmark
        let detail: String
        let cost: @Sendable (Candidate) -> Double
        /// (accuracy, cost): points not better in both count for nothing.
        let reference: (Double, Double)
        /// What a hypervolume is divided by.
        let norm: Double

        var name: String { accuracy.name }
    }

    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var optunaSamplers = "tpe,nsga2"
        let parsed = try SuiteArguments(
            args, defaults: [("random", "random", ""), ("nsga2", "nsga2", "")],
            usage: "--seeds N --budgets 25,50,100,200 --config LABEL=STRATEGY:k=v,... --only LABEL,... --benchmarks NAME,... --optuna-samplers tpe,nsga2 --python PATH --no-optuna"
        ) { a, it in
            guard a == "--optuna-samplers" else { return false }
            optunaSamplers = it.next() ?? optunaSamplers
            return true
        }
        let (seeds, budgets, configs, onlyBenchmarks, python) = (parsed.seeds, parsed.budgets, parsed.configs, parsed.onlyBenchmarks, parsed.python)
        let all = try makeBenchmarks(root: root)
        let benchmarks = all.filter { onlyBenchmarks?.contains($0.name) ?? true }.sorted { $0.name < $1.name }
        guard !benchmarks.isEmpty else { throw BenchError("--benchmarks matched none of: \(all.map(\.name).joined(separator: ", "))") }

        let optuna = OptunaRuns()
        var optunaThread: Thread?
        if let python, FileManager.default.isExecutableFile(atPath: python) {
            let script = root.appendingPathComponent("bench/optuna_pareto.py").path
            let jobs = benchmarks.map { b in (b.name, b.accuracy.optunaArgs, b.accuracy.identity) }
            let (s, bs, samplers) = (seeds, budgets, optunaSamplers)
            let t = Thread { optuna.runAll(python: python, script: script, jobs: jobs, seeds: s, budgets: bs, samplers: samplers, flags: [], parallel: 2) }
            t.start()
            optunaThread = t
        }

        print("pareto suite: \(benchmarks.count) benchmarks, \(seeds) seeds; hypervolume of the observed front's true points / the reference front's, mean ± standard error over seeds")
        var scores: [String: [String: [Int: [Double]]]] = [:]
        for b in benchmarks {
            let t0 = Date()
            for c in configs { scores[b.name, default: [:]][c.label] = try runConfig(c, on: b, seeds: seeds, budgets: budgets) }
            FileHandle.standardError.write(Data(String(format: "  %@: %.0f s\n", b.name, Date().timeIntervalSince(t0)).utf8))
        }
        var optunaLabels: [String] = []
        if let optunaThread {
            while !optunaThread.isFinished { Thread.sleep(forTimeInterval: 0.2) }
            for e in optuna.errors { print("(optuna: \(e))") }
            let byName = Dictionary(uniqueKeysWithValues: benchmarks.map { ($0.name, $0) })
            for (name, samplers) in optuna.results {
                for (sampler, at) in samplers {
                    let label = "optuna-\(sampler)"
                    if !optunaLabels.contains(label) { optunaLabels.append(label) }
                    scores[name, default: [:]][label] = at.mapValues { $0.map { $0 / byName[name]!.norm } }
                }
            }
            optunaLabels.sort()
        } else {
            print("(optuna baseline skipped: no Python at \(python ?? "-"); install with: python3 -m venv ~/.cache/topiary/bench-venv && ~/.cache/topiary/bench-venv/bin/pip install -r bench/requirements.txt)")
        }
        // The reference on each (benchmark, budget): the better of Optuna's samplers there.
        let reference = "optuna-best"
        if !optunaLabels.isEmpty {
            for b in benchmarks {
                for budget in budgets {
                    let best = optunaLabels.compactMap { scores[b.name]?[$0]?[budget] }.max { StrategySuite.mean($0) < StrategySuite.mean($1) }
                    if let best { scores[b.name, default: [:]][reference, default: [:]][budget] = best }
                }
            }
        }
        for b in benchmarks {
            print("\n\(b.name) — \(b.detail)")
            print("    " + "strategy".padding(toLength: 16, withPad: " ", startingAt: 0) + budgets.map { "@\($0)".leftPad(17) }.joined())
            for label in configs.map(\.label) + optunaLabels {
                guard let at = scores[b.name]?[label] else { continue }
                print("    " + label.padding(toLength: 16, withPad: " ", startingAt: 0) + budgets.map { meanSE(at[$0] ?? []).leftPad(17) }.joined())
            }
        }
        if !optunaLabels.isEmpty {
            StrategySuite.printLeaveOneOut(scores: scores, benchmarks: benchmarks.map(\.name), labels: configs.map(\.label), budgets: budgets,
                                           reference: reference)
        }
    }

    static func runConfig(_ c: (label: String, strategy: String, options: String), on b: Benchmark, seeds: Int,
                          budgets: [Int]) throws -> [Int: [Double]] {
        let options = try StrategyOptions(text: c.options)
        return try StrategySuite.perSeed(seeds, "\(c.label) on \(b.name)") { seed in
            let cost = b.cost
            let problem = SearchProblem(space: b.accuracy.space, seed: UInt64(seed), objectives: [.accuracy, SearchObjective("cost", maximize: false)],
                                        predictor: { ["cost": cost($0)] })
            var s = try Strategies.make(c.strategy, options: options, problem: problem)
            var values: [Int: Double] = [:]
            try StrategySuite.drive(&s, seed: seed, budgets: budgets, workers: 1, evalKey: b.accuracy.evalKey,
                                    observe: { cand, _, k in b.accuracy.observe(cand, UInt64(seed), k) },
                                    measure: { s, budget in values[budget] = hypervolume(of: s.history, b) / b.norm })
            return values
        }
    }

    /// The hypervolume of the true points of the observed non-dominated set, as Optuna's
    /// `best_trials` would give it.
    static func hypervolume(of history: TrialHistory, _ b: Benchmark) -> Double {
        let done = history.trials.compactMap { t in t.status.metrics?["accuracy"].map { (t.candidate, $0, b.cost(t.candidate)) } }
        let front = Pareto.fronts(done.map { [$0.1, -$0.2] }).first ?? []
        return hypervolume(front.map { (b.accuracy.truth(done[$0].0), b.cost(done[$0].0)) }, reference: b.reference)
    }

    /// Area dominated by (accuracy up, cost down) points, bounded by the reference point.
    static func hypervolume(_ points: [(Double, Double)], reference: (Double, Double)) -> Double {
        Pareto.hypervolume2D(points.map { ($0.0, -$0.1) }, reference: (reference.0, -reference.1))
    }

    static func makeBenchmarks(root: URL) throws -> [Benchmark] {
        var out: [Benchmark] = []
        if let (table, nbm, csv) = try StrategySuite.nasBenchMacroTable(root: root) {
            let reference = (StrategyBench.referenceAccuracy, StrategyBench.referenceFlops / 1e6)
            let front = hypervolume(table.values.map { ($0.mean, Double($0.flops) / 1e6) }, reference: reference)
            out.append(Benchmark(
                accuracy: StrategySuite.tableBenchmark(table, space: nbm, csv: csv),  // its CSV is also Optuna's
                detail: "NAS-Bench-Macro CIFAR-10 table, accuracy and MFLOPs; reference (85 %, 110 MFLOPs); 1.0 = the table's true front",
                cost: { c in Double(table[try! nbm.encodeBenchmarkKey(c)]!.flops) / 1e6 },
                reference: reference, norm: front))
        }
        let cache = try StrategySuite.cacheDirectory()
        // The single-objective suite's accuracy landscapes, each paired with a cost.
        for (land, interaction, seed) in try StrategySuite.landscapes(root: root) {
            let cost = try SyntheticTradeOff(accuracy: land, interaction: interaction, seed: seed)
            let randomFront = hypervolume(land.space.sample(count: 20_000, seed: seed ^ 0xF207).map { (land.value($0), cost.value($0)) },
                                          reference: cost.reference)
            let json = cost.json()
            let file = cache.appendingPathComponent(land.name.replacingOccurrences(of: "/", with: "-") + "-pareto.json")
            try json.write(to: file)
            out.append(Benchmark(
                accuracy: StrategySuite.landscapeBenchmark(land, file: file, json: json),  // Optuna reads the trade-off file
                detail: String(format: "accuracy as in the suite (noise ±%.1f) and a cost correlated with it (ρ %.1f, log-sd %.1f); 1.0 = the front of 20,000 random candidates",
                               land.noise * SyntheticLandscape.sd, SyntheticTradeOff.correlation, SyntheticTradeOff.logSD),
                cost: { c in cost.value(c) },
                reference: cost.reference, norm: randomFront))
        }
        return out
    }

    static func meanSE(_ v: [Double]) -> String {
        guard v.count > 1 else { return v.first.map { String(format: "%.4f", $0) } ?? "-" }
        let m = StrategySuite.mean(v)
        let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        return String(format: "%.4f ± %.4f", m, sd / Double(v.count).squareRoot())
    }
}
