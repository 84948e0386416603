import Foundation

// Benchmarks print figures; they never assert timings. Usage: topiary-bench SUITE [options]
let args = Array(CommandLine.arguments.dropFirst())
let suites: [String: ([String]) throws -> Void] = [
    "core": CoreBench.run,
    "store": StoreBench.run,
    "dispatch": DispatchBench.run,
    "hardware": HardwareBench.run,
    "latency-loo": LatencyLOO.run,
    "strategies": StrategyBench.run,
    "suite": StrategySuite.run,
    "strategy-cost": StrategyCostBench.run,
    "pareto-suite": ParetoSuite.run,
    "workers": ManyWorkersBench.run,
    "dashboard": DashboardBench.run,
    "artifacts": ArtifactsBench.run,
]
guard let name = args.first, let suite = suites[name] else {
    FileHandle.standardError.write(Data("usage: topiary-bench \(suites.keys.sorted().joined(separator: "|")) [options]\n".utf8))
    exit(2)
}
do {
    try suite(Array(args.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
