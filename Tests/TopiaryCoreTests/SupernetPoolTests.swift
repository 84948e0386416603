import Foundation
import Testing
@testable import TopiaryCore

/// A supernet's premise: every network of a space is a slice of its largest one, layer by
/// layer (the trainer cuts weights by label, Workers/pytorch/supernet.py).
@Suite("Supernet pool")
struct SupernetPoolTests {
    /// Weight layers of a graph JSON by the trainer's key (label/op/position), with their
    /// widths and kernel.
    static func layers(_ graph: JSONValue) -> [String: (out: Int, inPerGroup: Int, kernel: Int)] {
        var seen: [String: Int] = [:]
        var out: [String: (Int, Int, Int)] = [:]
        for n in graph["nodes"]?.arrayValue ?? [] {
            guard let op = n["op"]?.stringValue, ["conv", "linear", "batchnorm"].contains(op) else { continue }
            let base = "\(n["label"]?.stringValue ?? "")/\(op)"
            let i = seen[base, default: 0]
            seen[base] = i + 1
            let c = op == "batchnorm" ? n["shape"]?.arrayValue?.first?.intValue ?? 0 : n["out"]?.intValue ?? 0
            let groups = n["groups"]?.intValue ?? 1
            out["\(base)/\(i)"] = (c, (n["in"]?.intValue ?? 0) / max(1, groups), n["kernel"]?.intValue ?? 1)
        }
        return out
    }

    @Test("every sampled network's layers are slices of the largest's (fewer channels, a centred smaller kernel)",
          arguments: ["fashion-mobilenet", "mobilenetv3-imagenet"])
    func slices(name: String) throws {
        let space = try Spaces.load(name)
        let pool = SupernetPool.json(space: space, count: 200, seed: 3)
        let largest = Self.layers(pool["largest"]!)
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
