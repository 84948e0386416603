import Foundation
import TopiaryCore
import TopiarySearch

/// Runs the search strategies in-process on NAS-Bench-Macro (CIFAR-10) and, in the same run,
/// bench/optuna_baseline.py (Optuna's random, TPE and NSGA-II samplers) on the same table,
/// budgets, seeds and noise; prints both in one table.
///
///     topiary-bench strategies [--seeds 30] [--budgets 25,50,100,200] [--workers 1]
///                              [--only LABEL,...] [--python PATH | --no-optuna]
///                              [--config LABEL=STRATEGY:key=value,...] [--config2 LABEL=STRATEGY:...]
///                              [--optuna-samplers random,tpe,nsga2,tpe-mv]
///
/// Protocol (mirrored exactly by bench/optuna_baseline.py):
/// - the k-th evaluation of architecture a in seed s observes test_acc_run(i+1) with
///   i = splitmix64(s·0x9E3779B97F4A7C15 ^ index(a)·0xD1B54A32D192ED03 ^ k) % 3 (index(a): the key in base 3);
/// - one objective: after b evaluations, the strategy's recommendation is scored by its true mean_acc;
/// - two objectives (accuracy up, flops down): after b evaluations, the non-dominated set of the
///   observed (accuracy, flops) pairs is scored by the hypervolume of its true (mean_acc, flops)
///   points against the reference point (85 % accuracy, 110 MFLOPs), divided by that of the
///   table's true Pareto front.
/// With `--workers N`, N trials run at once and finish in a seeded random order (the asynchronous
/// protocol); Optuna runs sequentially.
enum StrategyBench {
    struct Row {
        var runs: [Double]
        var mean: Double
        var flops: Int
    }

    static let referenceAccuracy = 85.0
    static let referenceFlops = 110e6

    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var workers = 1
        var showOracle = false
        var extraMulti: [(String, String, String)] = []
        var optunaSamplers = "random,tpe,nsga2"
        var csvPath = root.appendingPathComponent("../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv").standardized.path
        let single: [(label: String, strategy: String, options: String)] = [
            ("random", "random", ""),
            ("evolution", "evolution", ""),
            ("evolution-plain", "evolution", "candidates=1,exploit=0,smoothing=0,population=10,sample=3"),
            ("tpe", "tpe", ""),
            ("bo", "bo", ""),
        ]
        let multi: [(String, String, String)] = [
            ("random", "random", ""),
            ("nsga2", "nsga2", ""),
            ("nsga2-plain", "nsga2", "candidates=1"),
        ]
        // --config adds a one-objective row, --config2 a two-objective one (LABEL=STRATEGY:k=v,...).
        let parsed = try SuiteArguments(
            args, defaults: single,
            usage: "--seeds N --budgets 25,50,100,200 --workers N --only LABEL,... --python PATH --no-optuna --csv PATH --config LABEL=STRATEGY:k=v,... --config2 (two objectives) --optuna-samplers LIST --oracle",
            requireConfig: false
        ) { a, it in
            switch a {
            case "--workers": workers = max(1, Int(it.next() ?? "") ?? workers)
            case "--oracle": showOracle = true
            case "--csv": csvPath = it.next() ?? csvPath
            case "--optuna-samplers": optunaSamplers = it.next() ?? optunaSamplers
            case "--config2": extraMulti.append(try SuiteArguments.config(it.next() ?? ""))
            default: return false
            }
            return true
        }
        let (seeds, budgets, python, only) = (parsed.seeds, parsed.budgets, parsed.python, parsed.only)
        if parsed.onlyBenchmarks != nil { throw BenchError("strategies runs one table: name it with --csv (--benchmarks is the suite's)") }
        let space = try SearchSpace.load(path: root.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path)
        let table = try loadTable(csvPath)
        let bestFront = hypervolume(table.values.map { ($0.mean, $0.flops) })

        // Optuna runs in parallel with the Swift strategies (two cores).
        var optuna: Process?
        let optunaOut = Pipe()
        if let python, FileManager.default.isExecutableFile(atPath: python) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = [root.appendingPathComponent("bench/optuna_baseline.py").path, "--csv", csvPath, "--seeds", "\(seeds)",
                           "--budgets", budgets.map(String.init).joined(separator: ","), "--samplers", optunaSamplers, "--rows-only"]
            p.standardOutput = optunaOut
            try p.run()
            optuna = p
        }

        print("strategies on NAS-Bench-Macro (CIFAR-10, 6,561 archs): \(seeds) seeds, \(workers) worker(s), a trial observes one of the three runs")
        print("acc: true mean_acc of the returned candidate, mean ± std over seeds (optimum 93.13; 12 archs reach 93.0)")
        print("hv:  hypervolume of the observed Pareto set (accuracy up, flops down), true values, ref (85 %, 110 MFLOPs), / the table's true front")
        print("    " + "strategy".padding(toLength: 22, withPad: " ", startingAt: 0)
              + budgets.map { "@\($0)".leftPad(16) }.joined())

        var hvRows: [String] = []
        for (label, name, opts) in parsed.configs {
            let t0 = Date()
            var at: [Int: [Double]] = [:]
            var oracle: [Int: [Double]] = [:]
            for seed in 0..<seeds {
                let problem = SearchProblem(space: space, seed: UInt64(seed), objectives: [.accuracy],
                                            predictor: CostFigures.predictor(space: space))
                var s = try Strategies.make(name, options: try StrategyOptions(text: opts), problem: problem)
                try simulate(&s, table: table, space: space, seed: seed, budgets: budgets, workers: workers) { s, b in
                    guard let best = s.best else { return }
                    at[b, default: []].append(table[try! space.encodeBenchmarkKey(best.candidate)]!.mean)
                    oracle[b, default: []].append(s.history.trials.map { table[try! space.encodeBenchmarkKey($0.candidate)]!.mean }.max()!)
                }
            }
            print("acc " + label.padding(toLength: 22, withPad: " ", startingAt: 0)
                  + budgets.map { format(at[$0] ?? [], 2).leftPad(16) }.joined()
                  + String(format: "   (%.0f s)", Date().timeIntervalSince(t0)))
            if showOracle {
                print("    " + "  best evaluated".padding(toLength: 22, withPad: " ", startingAt: 0) + budgets.map { format(oracle[$0] ?? [], 2).leftPad(16) }.joined())
            }
        }
        for (label, name, opts) in multi + extraMulti where only?.contains(label) ?? true {
            var at: [Int: [Double]] = [:]
            for seed in 0..<seeds {
                let problem = SearchProblem(space: space, seed: UInt64(seed), objectives: [.accuracy, .macs],
                                            predictor: CostFigures.predictor(space: space))
                var s = try Strategies.make(name, options: try StrategyOptions(text: opts), problem: problem)
                try simulate(&s, table: table, space: space, seed: seed, budgets: budgets, workers: workers) { s, b in
                    let observed = s.history.trials.compactMap { t -> (Double, Int, String)? in
                        guard let acc = t.status.metrics?["accuracy"] else { return nil }
                        let key = try! space.encodeBenchmarkKey(t.candidate)
                        return (acc, table[key]!.flops, key)
                    }
                    let front = Pareto.fronts(observed.map { [$0.0, -Double($0.1)] }).first ?? []
                    at[b, default: []].append(hypervolume(front.map { (table[observed[$0].2]!.mean, observed[$0].1) }) / bestFront)
                }
            }
            hvRows.append("hv  " + label.padding(toLength: 22, withPad: " ", startingAt: 0)
                          + budgets.map { format(at[$0] ?? [], 4).leftPad(16) }.joined())
        }
        for r in hvRows { print(r) }
        if let optuna {
            let data = optunaOut.fileHandleForReading.readDataToEndOfFile()
            optuna.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            print(text.split(separator: "\n").filter { $0.hasPrefix("acc ") || $0.hasPrefix("hv ") }.sorted { $0.hasPrefix("acc") && !$1.hasPrefix("acc") }.joined(separator: "\n"))
            if optuna.terminationStatus != 0 { print("(optuna baseline exited with status \(optuna.terminationStatus))") }
        } else {
            print("(optuna baseline skipped: no Python at \(python ?? "-"); install with: python3 -m venv ~/.cache/topiary/bench-venv && ~/.cache/topiary/bench-venv/bin/pip install -r bench/requirements.txt)")
        }
        print("ASHA is not run here: the table has one fidelity (final accuracy); its behaviour is tested on synthetic schedules.")
    }

    /// Drives a strategy for max(budgets) evaluations with `workers` slots; calls `measure`
    /// after each budget's worth of completed trials.
    static func simulate(_ s: inout any SearchStrategy, table: [String: Row], space: SearchSpace, seed: Int, budgets: [Int],
                         workers: Int, measure: (any SearchStrategy, Int) -> Void) throws {
        try StrategySuite.drive(&s, seed: seed, budgets: budgets, workers: workers,
                                evalKey: { try space.encodeBenchmarkKey($0) },
                                observe: { _, arch, k in table[arch]!.runs[runIndex(seed: UInt64(seed), arch: arch, k: k)] },
                                measure: measure)
    }

    /// The noise draw shared with bench/optuna_baseline.py.
    static func runIndex(seed: UInt64, arch: String, k: Int) -> Int {
        let index = UInt64(arch, radix: 3)!
        var g = SeededGenerator(seed: (seed &* 0x9E37_79B9_7F4A_7C15) ^ (index &* 0xD1B5_4A32_D192_ED03) ^ UInt64(k))
        return Int(g.next() % 3)
    }

    static func loadTable(_ path: String) throws -> [String: Row] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BenchError("cannot read \(path); the NAS-Bench-Macro table lives in ../shared/benchmarks/nas-bench-macro/ (or pass --csv PATH)")
        }
        var out: [String: Row] = [:]
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",")
            guard f.count == 8, let r1 = Double(f[1]), let r2 = Double(f[2]), let r3 = Double(f[3]), let m = Double(f[4]), let fl = Int(f[7]) else {
                throw BenchError("\(path): malformed row '\(line)'")
            }
            out[String(f[0])] = Row(runs: [r1, r2, r3], mean: m, flops: fl)
        }
        guard out.count == 6561 else { throw BenchError("\(path) has \(out.count) architectures; NAS-Bench-Macro has 6,561") }
        return out
    }

    /// Hypervolume of (accuracy up, flops down) points in %·MFLOPs against the reference point.
    static func hypervolume(_ points: [(Double, Int)]) -> Double {
        Pareto.hypervolume2D(points.map { ($0.0, -Double($0.1) / 1e6) }, reference: (referenceAccuracy, -referenceFlops / 1e6))
    }

    static func format(_ v: [Double], _ digits: Int) -> String {
        guard !v.isEmpty else { return "-" }
        let m = v.reduce(0, +) / Double(v.count)
        let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
        return String(format: "%.\(digits)f ± %.\(digits)f", m, sd)
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? " " + self : String(repeating: " ", count: n - count) + self }
}
