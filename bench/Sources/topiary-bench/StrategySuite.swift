import Foundation
import TopiaryCore
import TopiarySearch

/// The benchmark suite strategy defaults are chosen on: NAS-Bench-Macro's table plus synthetic
/// landscapes (`Landscape`) over the dimensions of each of the four spaces, in three families
/// (additive; strong pairwise interactions; heavy evaluation noise). Every configuration runs
/// every benchmark with the same seeds as Optuna's TPE (bench/optuna_baseline.py, run in the
/// same command), and the defaults are judged by leave-one-benchmark-out: for each benchmark,
/// the configuration that ranks best on all the others is reported on the one left out.
///
///     topiary-bench suite [--seeds 30] [--budgets 25,50,100,200] [--workers 1]
///                         [--config LABEL=STRATEGY:key=value,...]... [--only LABEL,...]
///                         [--benchmarks NAME,...] [--python PATH | --no-optuna]
///
/// Score: the true value (table mean or landscape value, without noise) of the strategy's
/// recommendation (Optuna: its best trial) after each budget, mean over seeds. Optuna's results
/// are cached under ~/.cache/topiary/strategy-suite by landscape and settings.
enum StrategySuite {
    struct Benchmark: Sendable {
        let name: String
        let space: SearchSpace
        let detail: String
        let observe: @Sendable (Candidate, UInt64, Int) -> Double
        let truth: @Sendable (Candidate) -> Double
        let evalKey: @Sendable (Candidate) -> String
        /// bench/optuna_baseline.py arguments that select this benchmark.
        let optunaArgs: [String]
        /// Bytes that identify it for the Optuna cache.
        let identity: Data
    }

    static let families: [(name: String, interaction: Double, noise: Double)] = [
        ("additive", 0.0, 0.1), ("interacting", 1.0, 0.1), ("noisy", 0.5, 0.5),
    ]
    static let spaces = ["nas-bench-macro", "nas-bench-201", "fashion-mobilenet", "mobilenetv3-imagenet"]

    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var workers = 1
        let parsed = try SuiteArguments(
            args, defaults: [("random", "random", ""), ("evolution", "evolution", ""), ("tpe", "tpe", ""), ("tpe-mv", "tpe", "multivariate=true")],
            usage: "--seeds N --budgets 25,50,100,200 --workers N --config LABEL=STRATEGY:k=v,... --only LABEL,... --benchmarks NAME,... --python PATH --no-optuna"
        ) { a, it in
            guard a == "--workers" else { return false }
            workers = max(1, Int(it.next() ?? "") ?? workers)
            return true
        }
        let (seeds, budgets, configs, onlyBenchmarks, python) = (parsed.seeds, parsed.budgets, parsed.configs, parsed.onlyBenchmarks, parsed.python)

        var benchmarks = try makeBenchmarks(root: root).filter { onlyBenchmarks?.contains($0.name) ?? true }
        guard !benchmarks.isEmpty else { throw BenchError("--benchmarks matched none of: \(try makeBenchmarks(root: root).map(\.name).joined(separator: ", "))") }
        benchmarks.sort { $0.name < $1.name }

        // Optuna in a background thread (one process at a time) while Swift runs the strategies.
        let optuna = OptunaRuns()
        var optunaThread: Thread?
        if let python, FileManager.default.isExecutableFile(atPath: python) {
            let script = root.appendingPathComponent("bench/optuna_baseline.py").path
            let jobs = benchmarks.map { b in (b.name, b.optunaArgs, b.identity) }
            let (s, bs) = (seeds, budgets)
            let t = Thread { optuna.runAll(python: python, script: script, jobs: jobs, seeds: s, budgets: bs) }
            t.start()
            optunaThread = t
        }

        print("strategy suite: \(benchmarks.count) benchmarks, \(seeds) seeds, \(workers) worker(s); true value of the recommendation, mean ± standard error over seeds")
        var scores: [String: [String: [Int: [Double]]]] = [:]  // benchmark -> label -> budget -> per seed
        for b in benchmarks {
            let t0 = Date()
            for c in configs {
                scores[b.name, default: [:]][c.label] = try runConfig(c, on: b, seeds: seeds, budgets: budgets, workers: workers)
            }
            FileHandle.standardError.write(Data(String(format: "  %@: %.0f s\n", b.name, Date().timeIntervalSince(t0)).utf8))
        }
        let optunaResults: [String: [String: [Int: [Double]]]]
        if let optunaThread {
            while !optunaThread.isFinished { Thread.sleep(forTimeInterval: 0.2) }
            optunaResults = optuna.results
            for e in optuna.errors { print("(optuna: \(e))") }
        } else {
            optunaResults = [:]
            print("(optuna baseline skipped: no Python at \(python ?? "-"); install with: python3 -m venv ~/.cache/topiary/bench-venv && ~/.cache/topiary/bench-venv/bin/pip install -r bench/requirements.txt)")
        }
        let reference = "optuna-tpe"
        for b in benchmarks {
            if let o = optunaResults[b.name]?["tpe"] { scores[b.name, default: [:]][reference] = o }
            print("\n\(b.name) — \(b.detail)")
            print("    " + "strategy".padding(toLength: 16, withPad: " ", startingAt: 0) + budgets.map { "@\($0)".leftPad(15) }.joined())
            for label in configs.map(\.label) + [reference] {
                guard let at = scores[b.name]?[label] else { continue }
                print("    " + label.padding(toLength: 16, withPad: " ", startingAt: 0)
                      + budgets.map { meanSE(at[$0] ?? []).leftPad(15) }.joined())
            }
        }
        printLeaveOneOut(scores: scores, benchmarks: benchmarks.map(\.name), labels: configs.map(\.label), budgets: budgets, reference: reference)
    }

    /// For each benchmark, the configuration with the best mean rank over all other benchmarks
    /// and budgets, reported on the benchmark left out beside the reference.
    static func printLeaveOneOut(scores: [String: [String: [Int: [Double]]]], benchmarks: [String], labels: [String],
                                 budgets: [Int], reference: String) {
        // Rank of each configuration per (benchmark, budget), 1 = best mean.
        var ranks: [String: [String: Double]] = [:]  // benchmark -> label -> mean rank over budgets
        for b in benchmarks {
            for budget in budgets {
                let means = labels.map { l in (l, mean(scores[b]?[l]?[budget] ?? [])) }
                for (l, m) in means {
                    let better = means.filter { $0.1 > m }.count
                    let tied = means.filter { $0.1 == m }.count
                    ranks[b, default: [:]][l, default: 0] += (Double(better) + Double(tied + 1) / 2) / Double(budgets.count)
                }
            }
        }
        // The goal is to be ahead of the reference everywhere, so a configuration is chosen by
        // how many (benchmark, budget) pairs it is ahead in; ties by mean rank.
        func wins(_ l: String, on b: String) -> Int {
            budgets.filter { budget in
                guard let r = scores[b]?[reference]?[budget], !r.isEmpty else { return false }
                return mean(scores[b]![l]![budget]!) > mean(r)
            }.count
        }
        func choose(excluding: String?) -> String {
            let others = benchmarks.filter { $0 != excluding }
            return labels.min { a, b in
                let (wa, wb) = (others.map { wins(a, on: $0) }.reduce(0, +), others.map { wins(b, on: $0) }.reduce(0, +))
                if wa != wb { return wa > wb }
                return others.map { ranks[$0]![a]! }.reduce(0, +) < others.map { ranks[$0]![b]! }.reduce(0, +)
            }!
        }
        print("\nover all benchmarks: mean rank over budgets (1 = best of \(labels.count)) and (benchmark, budget) pairs ahead of \(reference):")
        for l in labels {
            print("    " + l.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: "%.2f", benchmarks.map { ranks[$0]![l]! }.reduce(0, +) / Double(benchmarks.count))
                  + String(format: "%6d of %d", benchmarks.map { wins(l, on: $0) }.reduce(0, +), benchmarks.count * budgets.count))
        }
        print("\nleave one benchmark out: the configuration ahead of \(reference) most often on the others (ties: mean rank), on the one left out; Δ against \(reference) (+ = ahead)")
        print("    " + "left out".padding(toLength: 34, withPad: " ", startingAt: 0) + "chosen".padding(toLength: 14, withPad: " ", startingAt: 0)
              + budgets.map { "@\($0)".leftPad(9) }.joined())
        var ahead = 0, total = 0
        for b in benchmarks {
            let chosen = choose(excluding: b)
            var line = "    " + b.padding(toLength: 34, withPad: " ", startingAt: 0) + chosen.padding(toLength: 14, withPad: " ", startingAt: 0)
            for budget in budgets {
                guard let r = scores[b]?[reference]?[budget], !r.isEmpty else { line += "-".leftPad(9); continue }
                let d = mean(scores[b]![chosen]![budget]!) - mean(r)
                line += String(format: "%+.3f", d).leftPad(9)
                total += 1
                if d > 0 { ahead += 1 }
            }
            print(line)
        }
        print("    chosen on all benchmarks: \(choose(excluding: nil)); ahead of \(reference) in \(ahead) of \(total) (benchmark, budget) pairs")
    }

    static func runConfig(_ c: (label: String, strategy: String, options: String), on b: Benchmark, seeds: Int, budgets: [Int],
                          workers: Int) throws -> [Int: [Double]] {
        let options = try StrategyOptions(text: c.options)
        return try perSeed(seeds, "\(c.label) on \(b.name)") { seed in
            let problem = SearchProblem(space: b.space, seed: UInt64(seed), objectives: [.accuracy],
                                        predictor: CostFigures.predictor(space: b.space))
            var s = try Strategies.make(c.strategy, options: options, problem: problem)
            return try simulate(&s, b, seed: seed, budgets: budgets, workers: workers)
        }
    }

    /// Runs `body` for every seed at once and gathers its per-budget values by budget (in seed
    /// order); the first error, named by `what` and the seed, is thrown.
    static func perSeed(_ seeds: Int, _ what: String, _ body: @Sendable (Int) throws -> [Int: Double]) throws -> [Int: [Double]] {
        let out = Locked<[Int: [Int: Double]]>([:])  // seed -> budget -> value
        let failure = Locked<String?>(nil)
        DispatchQueue.concurrentPerform(iterations: seeds) { seed in
            do {
                let values = try body(seed)
                out.update { $0[seed] = values }
            } catch {
                failure.update { $0 = "\(what), seed \(seed): \(error)" }
            }
        }
        if let f = failure.value { throw BenchError(f) }
        var at: [Int: [Double]] = [:]
        for seed in 0..<seeds { for (budget, v) in out.value[seed]! { at[budget, default: []].append(v) } }
        return at
    }

    /// The recommendation's true value after each budget.
    static func simulate(_ s: inout any SearchStrategy, _ b: Benchmark, seed: Int, budgets: [Int], workers: Int) throws -> [Int: Double] {
        var out: [Int: Double] = [:]
        try drive(&s, seed: seed, budgets: budgets, workers: workers, evalKey: b.evalKey,
                  observe: { c, _, k in b.observe(c, UInt64(seed), k) },
                  measure: { s, budget in if let best = s.best { out[budget] = b.truth(best.candidate) } })
        return out
    }

    /// Drives a strategy for max(budgets) evaluations with `workers` slots finishing in a
    /// seeded random order; the k-th evaluation of a candidate (counted by `evalKey`) observes
    /// `observe(candidate, key, k)`; `measure` runs after each budget's worth of results.
    static func drive(_ s: inout any SearchStrategy, seed: Int, budgets: [Int], workers: Int,
                      evalKey: (Candidate) throws -> String, observe: (Candidate, String, Int) -> Double,
                      measure: (any SearchStrategy, Int) -> Void) throws {
        var running: [TrialKey] = []
        var order = SeededGenerator(seed: UInt64(seed) &+ 0xB0B)
        var evaluations: [String: Int] = [:]
        var done = 0, started = 0
        let total = budgets.last!
        while done < total {
            while running.count < workers && started < total {
                guard let sug = s.suggest(count: 1).first else { break }
                running.append(sug.key)
                started += 1
            }
            guard !running.isEmpty else { throw BenchError("strategy \(s.name) ran out of candidates after \(done) evaluations") }
            let key = running.remove(at: order.index(below: running.count))
            let cand = s.history[key]!.candidate
            let ek = try evalKey(cand)
            let k = evaluations[ek, default: 0]
            evaluations[ek] = k + 1
            try s.tell(key, .completed(["accuracy": observe(cand, ek, k)]))
            done += 1
            if budgets.contains(done) { measure(s, done) }
        }
    }

    static func makeBenchmarks(root: URL) throws -> [Benchmark] {
        var out: [Benchmark] = []
        if let t = try nasBenchMacroTable(root: root) { out.append(tableBenchmark(t.table, space: t.space, csv: t.csv)) }
        let cache = try cacheDirectory()
        for l in try landscapes(root: root) {
            let json = l.land.json()
            let file = cache.appendingPathComponent(l.land.name.replacingOccurrences(of: "/", with: "-") + ".json")
            try json.write(to: file)
            out.append(landscapeBenchmark(l.land, file: file, json: json))
        }
        return out
    }

    /// NAS-Bench-Macro's table from ../shared, nil (with a note) where it is not there.
    static func nasBenchMacroTable(root: URL) throws -> (table: [String: StrategyBench.Row], space: SearchSpace, csv: String)? {
        let csv = root.appendingPathComponent("../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv").standardized.path
        guard FileManager.default.fileExists(atPath: csv) else {
            FileHandle.standardError.write(Data("note: \(csv) not found; the suite runs without the NAS-Bench-Macro table\n".utf8))
            return nil
        }
        let space = try SearchSpace.load(path: root.appendingPathComponent("SearchSpaces/nas-bench-macro.yaml").path)
        return (try StrategyBench.loadTable(csv), space, csv)
    }

    /// The suite's synthetic landscapes (space × family), each with the family's interaction
    /// strength and the seed it was drawn from.
    static func landscapes(root: URL) throws -> [(land: SyntheticLandscape, interaction: Double, seed: UInt64)] {
        var out: [(SyntheticLandscape, Double, UInt64)] = []
        for (si, spaceName) in spaces.enumerated() {
            let space = try SearchSpace.load(path: root.appendingPathComponent("SearchSpaces/\(spaceName).yaml").path)
            for (fi, f) in families.enumerated() {
                let seed = UInt64(si * 100 + fi + 1)
                out.append((try SyntheticLandscape(name: "\(spaceName)/\(f.name)", space: space, interaction: f.interaction, noise: f.noise, seed: seed),
                            f.interaction, seed))
            }
        }
        return out
    }

    /// Where landscape files and Optuna's results are kept.
    static func cacheDirectory() throws -> URL {
        let cache = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/topiary/strategy-suite")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        return cache
    }

    /// NAS-Bench-Macro's table as a benchmark: an evaluation observes one of its three trainings.
    static func tableBenchmark(_ table: [String: StrategyBench.Row], space: SearchSpace, csv: String) -> Benchmark {
        Benchmark(
            name: "nas-bench-macro/table", space: space, detail: "NAS-Bench-Macro CIFAR-10 table (6,561 archs, three trainings each; optimum 93.13)",
            observe: { c, seed, k in
                let arch = try! space.encodeBenchmarkKey(c)
                return table[arch]!.runs[StrategyBench.runIndex(seed: seed, arch: arch, k: k)]
            },
            truth: { c in table[try! space.encodeBenchmarkKey(c)]!.mean },
            evalKey: { c in try! space.encodeBenchmarkKey(c) },
            optunaArgs: ["--csv", csv], identity: Data(csv.utf8))
    }

    /// A synthetic landscape as a benchmark, written to `file` for Optuna.
    static func landscapeBenchmark(_ land: SyntheticLandscape, file: URL, json: Data) -> Benchmark {
        Benchmark(
            name: land.name, space: land.space,
            detail: String(format: "synthetic over %@'s %d dimensions, %d interacting pairs, noise ±%.1f points (landscape 90 ± 2 over random candidates)",
                           land.space.name, land.dims.count, land.pairs.count, land.noise * SyntheticLandscape.sd),
            observe: { c, seed, k in land.observe(c, seed: seed, k: k) },
            truth: { c in land.value(c) },
            evalKey: { c in land.key(land.indices(of: c)) },
            optunaArgs: ["--landscape", file.path], identity: json)
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? -.infinity : v.reduce(0, +) / Double(v.count) }

    static func meanSE(_ v: [Double]) -> String {
        guard v.count > 1 else { return v.first.map { String(format: "%.3f", $0) } ?? "-" }
        let m = mean(v)
        let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        return String(format: "%.3f ± %.3f", m, sd / Double(v.count).squareRoot())
    }
}

/// Runs an Optuna script (bench/optuna_baseline.py, bench/optuna_pareto.py) once per benchmark,
/// cached by what it was run on; the script prints `raw SAMPLER SEED BUDGET VALUE` lines.
final class OptunaRuns: @unchecked Sendable {
    private let lock = NSLock()
    private var _results: [String: [String: [Int: [Double]]]] = [:]  // benchmark -> sampler -> budget -> per seed
    private var _errors: [String] = []
    var results: [String: [String: [Int: [Double]]]] { lock.withLock { _results } }
    var errors: [String] { lock.withLock { _errors } }

    /// `parallel` > 1 runs that many scripts at once (the two-objective samplers are slow).
    func runAll(python: String, script: String, jobs: [(String, [String], Data)], seeds: Int, budgets: [Int],
                samplers: String = "tpe", flags: [String] = ["--objectives", "1", "--raw"], parallel: Int = 1) {
        let common = ["--seeds", "\(seeds)", "--budgets", budgets.map(String.init).joined(separator: ","), "--samplers", samplers] + flags
        let next = Locked(0)
        let lanes = max(1, min(parallel, jobs.count))
        DispatchQueue.concurrentPerform(iterations: lanes) { _ in
            while true {
                var i = 0
                next.update { i = $0; $0 += 1 }
                guard i < jobs.count else { return }
                run(python: python, script: script, job: jobs[i], common: common)
            }
        }
    }

    private func run(python: String, script: String, job: (String, [String], Data), common: [String]) {
        let cache = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/topiary/strategy-suite")
        let (name, args, identity) = job
        let settings = args.filter { !$0.hasPrefix("/") } + common
        let scriptText = (try? Data(contentsOf: URL(fileURLWithPath: script))) ?? Data()
        let digest = SHA256.digest(identity + Data(settings.joined(separator: " ").utf8) + scriptText).prefix(12)
        let file = cache.appendingPathComponent("optuna-" + digest.map { String(format: "%02x", $0) }.joined() + ".txt")
        var text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        if text.isEmpty {
            let started = Date()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = [script] + args + common
            let pipe = Pipe()
            p.standardOutput = pipe
            do { try p.run() } catch { lock.withLock { _errors.append("\(name): \(error)") }; return }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                lock.withLock { _errors.append("\(name): \(URL(fileURLWithPath: script).lastPathComponent) exited with status \(p.terminationStatus)") }
                return
            }
            text = String(decoding: data, as: UTF8.self)
            try? data.write(to: file)
            FileHandle.standardError.write(Data(String(format: "  optuna on %@: %.0f s\n", name, Date().timeIntervalSince(started)).utf8))
        }
        var at: [String: [Int: [Double]]] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("raw ") {
            let f = line.split(separator: " ")  // raw SAMPLER SEED BUDGET VALUE
            guard f.count == 5, let b = Int(f[3]), let v = Double(f[4]) else { continue }
            at[String(f[1]), default: [:]][b, default: []].append(v)
        }
        lock.withLock { _results[name] = at }
    }
}

/// A value shared by concurrent iterations.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T
    init(_ v: T) { _value = v }
    var value: T { lock.withLock { _value } }
    func update(_ f: (inout T) -> Void) { lock.withLock { f(&_value) } }
}
