import Foundation
import TopiaryCore

/// Times the per-candidate work the search loop does before anything is trained:
/// sample -> build the graph -> compress -> cost, on one core.
enum CoreBench {
    static func run(_ args: [String]) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        var count = 20_000
        var repeats = 7
        var only: String?
        var it = args.makeIterator()
        while let a = it.next() {
            switch a {
            case "--count": count = Int(it.next() ?? "") ?? count
            case "--repeats": repeats = Int(it.next() ?? "") ?? repeats
            case "--space": only = it.next()
            default: throw BenchError("unknown option \(a); use --count N --repeats R --space NAME")
            }
        }
        print("core benchmark: \(count) candidates per run, \(repeats) runs after a warm-up, one thread")
        print("space                 stage                        min µs/cand  median µs/cand  candidates/s (median)")
        for name in ["fashion-mobilenet", "nas-bench-macro", "nas-bench-201", "mobilenetv3-imagenet"] where only == nil || only == name {
            let space = try SearchSpace.load(path: root.appendingPathComponent("SearchSpaces/\(name).yaml").path)
            var sink = 0
            let cands = space.sample(count: count, seed: 1)
            let graphs = cands.map { NetworkGraph.build($0, in: space) }
            let compressedGraphs = zip(cands, graphs).map { $1.compressed($0.compression) }
            let stages: [(String, () -> Void)] = [
                ("sample", {
                    var rng = SeededGenerator(seed: 1)
                    for _ in 0..<count { sink &+= space.sample(using: &rng).choices.count }
                }),
                ("sample+graph", {
                    var rng = SeededGenerator(seed: 1)
                    for _ in 0..<count { sink &+= NetworkGraph.build(space.sample(using: &rng), in: space).nodes.count }
                }),
                ("  compress only", {
                    for (c, g) in zip(cands, graphs) { sink &+= g.compressed(c.compression).nodes.count }
                }),
                ("  cost only", {
                    for g in compressedGraphs { sink &+= g.cost().macs }
                }),
                ("  peak memory only", {
                    for g in compressedGraphs { sink &+= g.peakActivationElements() }
                }),
                ("sample+graph+compress+cost", {
                    var rng = SeededGenerator(seed: 1)
                    for _ in 0..<count {
                        let c = space.sample(using: &rng)
                        sink &+= NetworkGraph.build(compressed: c, in: space).cost().macs
                    }
                }),
                ("...+id (SHA-256 of JSON)", {
                    var rng = SeededGenerator(seed: 1)
                    for _ in 0..<count {
                        let c = space.sample(using: &rng)
                        sink &+= NetworkGraph.build(compressed: c, in: space).cost().macs &+ c.id.utf8.count
                    }
                }),
            ]
            for (label, body) in stages {
                body()  // warm-up
                var times: [Double] = []
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    body()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3 / Double(count))
                }
                times.sort()
                let median = times[times.count / 2]
                print(name.padding(toLength: 21, withPad: " ", startingAt: 0) + " " + label.padding(toLength: 28, withPad: " ", startingAt: 0)
                      + String(format: " %11.2f  %14.2f  %12.0f", times[0], median, 1e6 / median))
            }
            if sink == 42 { print("") }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
