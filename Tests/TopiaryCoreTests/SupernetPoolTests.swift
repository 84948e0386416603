import Foundation
import Testing
@testable import TopiaryCore

/// A supernet's premise: every network of a space is a slice of its largest one, layer by
/// layer (the trainer cuts weights by label, Workers/pytorch/supernet.py).
@Suite("Supernet pool")
struct SupernetPoolTests {
    /// Weight layers of a graph JSON by the trainer's key (label/op/position, marked for the
    /// parts of a block without an expansion layer), with their widths and kernel.
    static func layers(_ graph: JSONValue) -> [String: (out: Int, inPerGroup: Int, kernel: Int)] {
        var seen: [String: Int] = [:]
        var out: [String: (Int, Int, Int)] = [:]
        let nodes = graph["nodes"]?.arrayValue ?? []
        let labels = Set(nodes.compactMap { $0["label"]?.stringValue })
        for n in nodes {
            guard let op = n["op"]?.stringValue, ["conv", "linear", "batchnorm"].contains(op) else { continue }
            let label = n["label"]?.stringValue ?? ""
            let i = seen["\(label)/\(op)", default: 0]
            seen["\(label)/\(op)"] = i + 1
            var mark = ""
            if let dot = label.lastIndex(of: "."), ["dw", "se", "project"].contains(String(label[label.index(after: dot)...])),
               !labels.contains(label[..<dot] + ".expand") {
                mark = "|noexpand"
            }
            let c = op == "batchnorm" ? n["shape"]?.arrayValue?.first?.intValue ?? 0 : n["out"]?.intValue ?? 0
            let groups = n["groups"]?.intValue ?? 1
            out["\(label)/\(op)/\(i)\(mark)"] = (c, (n["in"]?.intValue ?? 0) / max(1, groups), n["kernel"]?.intValue ?? 1)
        }
        return out
    }

    @Test("every sampled network's layers are slices of the largest's (fewer channels, a centred smaller kernel)",
          arguments: ["fashion-mobilenet", "mobilenetv3-imagenet"])
    func slices(name: String) throws {
        let space = try Spaces.load(name)
        let pool = SupernetPool.json(space: space, count: 200, seed: 3)
        // The largest network's layers, and the extra networks' for the layers it lacks.
        var largest = Self.layers(pool["largest"]!)
        for g in pool["extra"]?.arrayValue ?? [] { largest.merge(Self.layers(g)) { a, _ in a } }
        #expect(largest.keys.contains { $0.hasSuffix("|noexpand") })
        let graphs = [pool["smallest"]!] + (pool["graphs"]?.arrayValue ?? [])
        #expect(graphs.count == 201)
        for g in graphs {
            for (key, l) in Self.layers(g) {
                let big = try #require(largest[key], "\(key) is not in the largest network")
                #expect(l.out <= big.out && l.inPerGroup <= big.inPerGroup && l.kernel <= big.kernel && (big.kernel - l.kernel) % 2 == 0, "\(key)")
            }
        }
    }

    @Test("the largest and smallest networks: every dimension at its end, compression off")
    func extremes() throws {
        let space = try Spaces.load("fashion-mobilenet")
        let big = space.extremeNetwork(largest: true), small = space.extremeNetwork(largest: false)
        #expect(big.choices["s2.depth"]?.intValue == 3 && big.choices["s4.width"]?.intValue == 128 && big.choices["s3.b3.kernel"]?.intValue == 7)
        #expect(big.choices["s1.b2.expansion"]?.doubleValue == 6 && big.choices["s1.b1.se"]?.boolValue == true)
        #expect(small.choices["s2.depth"]?.intValue == 1 && small.choices["s2.b2.kernel"] == nil && small.choices["stem.width"]?.intValue == 8)
        for c in [big, small] {
            #expect(c.compression == space.uncompressed(c).compression)
            #expect(c.compression.pruning == .none && c.compression.weightBits == 32 && c.compression.activationBits == 32)
            #expect(!c.compression.distillation && c.compression.rankRatio == 1 && c.compression.clusters == 0)
        }
        let imagenet = try Spaces.load("mobilenetv3-imagenet")
        #expect(imagenet.input(of: imagenet.extremeNetwork(largest: true)).height == 224)
        #expect(imagenet.input(of: imagenet.extremeNetwork(largest: false)).height == 128)
        // Benchmark spaces have no supernet.
        #expect(SupernetPool.refusal(try Spaces.load("nas-bench-201")) != nil && SupernetPool.refusal(space) == nil)
    }

    @Test("the pool is the same for the same seed")
    func deterministic() throws {
        let space = try Spaces.load("fashion-mobilenet")
        #expect(SupernetPool.json(space: space, count: 5, seed: 9).text() == SupernetPool.json(space: space, count: 5, seed: 9).text())
        #expect(SupernetPool.json(space: space, count: 5, seed: 9).text() != SupernetPool.json(space: space, count: 5, seed: 10).text())
    }
}
