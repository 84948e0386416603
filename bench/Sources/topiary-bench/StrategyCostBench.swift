import Foundation
import TopiaryCore
import TopiarySearch

/// What one suggestion and one answer (`recommendation`) cost each strategy as the history
/// grows: the model-based ones refit at every draw. Random search, run in the same process,
/// is the baseline.
///
///     topiary-bench strategy-cost [--space fashion-mobilenet] [--sizes 50,100,200,400,1000]
///                                 [--repeats 5] [--strategies random,evolution,tpe,bo]
///
/// A strategy may carry options after a colon, `;`-separated: `bo:select_on=60;pool=128`.
enum StrategyCostBench {
    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var spaceName = "fashion-mobilenet"
        var sizes = [50, 100, 200, 400, 1000]
        var repeats = 5
        var strategies = ["random", "evolution", "tpe", "bo"]
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--space": spaceName = it.next() ?? spaceName
            case "--sizes": sizes = (it.next() ?? "").split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
            case "--repeats": repeats = max(1, Int(it.next() ?? "") ?? repeats)
            case "--strategies": strategies = (it.next() ?? "").split(separator: ",").map(String.init)
            default: throw BenchError("unknown option \(a); use --space NAME --sizes 50,100,... --repeats R --strategies random,tpe,...")
            }
        }
        guard !sizes.isEmpty, !strategies.isEmpty else { throw BenchError("--sizes and --strategies need at least one value") }
        let space = try SearchSpace.load(path: root.appendingPathComponent("SearchSpaces/\(spaceName).yaml").path)
        let landscape = try SyntheticLandscape(name: "cost", space: space, interaction: 0.5, noise: 0.1, seed: 1)
        print("strategy cost on \(spaceName) (\(space.dimensions.count) dimensions): one suggestion and one answer after n completed trials, \(repeats) repeats, one thread; min / median ms")
        print("strategy".padding(toLength: 12, withPad: " ", startingAt: 0) + sizes.map { "n=\($0)".leftPad(26) }.joined())
        for spec in strategies {
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            let name = parts[0], options = parts.count > 1 ? parts[1].replacingOccurrences(of: ";", with: ",") : ""
            var cells: [String] = []
            for n in sizes {
                // Distinct candidates (a small space repeats some draws).
                var seen: Set<String> = []
                let history = space.sample(count: 4 * n, seed: 7).filter { seen.insert($0.id).inserted }.prefix(n).map { c in
                    Trial(candidate: c, fidelity: 1, status: .completed(["accuracy": landscape.value(c)]))
                }
                let problem = SearchProblem(space: space, seed: 3, objectives: [.accuracy])
                let base = try Strategies.make(name, options: try StrategyOptions(text: options), problem: problem, history: history)
                var suggest: [Double] = [], answer: [Double] = []
                for _ in 0..<repeats {
                    var s = base
                    let t0 = Date()
                    _ = s.suggest(count: 1)
                    suggest.append(Date().timeIntervalSince(t0) * 1000)
                    let t1 = Date()
                    _ = base.recommendation(count: 1)
                    answer.append(Date().timeIntervalSince(t1) * 1000)
                }
                func fmt(_ x: [Double]) -> String {
                    let s = x.sorted()
                    return String(format: "%.1f/%.1f", s[0], s[s.count / 2])
                }
                cells.append("\(fmt(suggest)) + \(fmt(answer))".leftPad(26))
            }
            print(spec.padding(toLength: 12, withPad: " ", startingAt: 0) + cells.joined())
        }
        print("(each cell: suggestion min/median + answer min/median, in ms)")
    }
}
