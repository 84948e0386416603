import Foundation

/// The options `topiary-bench suite` and `pareto-suite` share: seeds, budgets, configurations
/// (`--config LABEL=STRATEGY[:key=value,...]`, `--only`), benchmarks and the Python that runs
/// Optuna. `extra` takes a suite's own options (it returns false for an unknown one).
struct SuiteArguments {
    var seeds = 30
    var budgets = [25, 50, 100, 200]
    var onlyBenchmarks: Set<String>?
    var python: String? = ProcessInfo.processInfo.environment["TOPIARY_BENCH_PYTHON"]
        ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/topiary/bench-venv/bin/python")
    var configs: [(label: String, strategy: String, options: String)]
    /// `--only`: the labels to run (nil: all); `configs` is already filtered by it.
    var only: Set<String>?

    /// `requireConfig` false: `--only` may leave no configuration here (a bench with a
    /// second list of configurations, filtered by `only` too).
    init(_ args: [String], defaults: [(label: String, strategy: String, options: String)], usage: String,
         requireConfig: Bool = true,
         extra: (String, inout IndexingIterator<[String]>) throws -> Bool = { _, _ in false }) throws {
        configs = defaults
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--seeds": seeds = Int(it.next() ?? "") ?? seeds
            case "--budgets": budgets = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--only": only = Set((it.next() ?? "").split(separator: ",").map(String.init))
            case "--benchmarks": onlyBenchmarks = Set((it.next() ?? "").split(separator: ",").map(String.init))
            case "--python": python = it.next()
            case "--no-optuna": python = nil
            case "--config": configs.append(try Self.config(it.next() ?? ""))
            default:
                guard try extra(a, &it) else { throw BenchError("unknown option \(a); use \(usage)") }
            }
        }
        guard !budgets.isEmpty, budgets.allSatisfy({ $0 > 0 }) else { throw BenchError("--budgets takes positive integers, e.g. 25,50,100,200") }
        budgets.sort()
        if let only { configs = configs.filter { only.contains($0.label) } }
        guard !configs.isEmpty || !requireConfig else { throw BenchError("--only left no configuration to run") }
    }

    /// A configuration from `LABEL=STRATEGY[:key=value,...]`.
    static func config(_ spec: String) throws -> (label: String, strategy: String, options: String) {
        guard let eq = spec.firstIndex(of: "=") else { throw BenchError("--config takes LABEL=STRATEGY[:key=value,...]") }
        let parts = spec[spec.index(after: eq)...].split(separator: ":", maxSplits: 1).map(String.init)
        guard let strategy = parts.first else { throw BenchError("--config \(spec): name a strategy after '='") }
        return (String(spec[..<eq]), strategy, parts.count > 1 ? parts[1] : "")
    }
}
