import Foundation
import Testing
@testable import TopiaryCore

@Suite("Network graph and cost accounting")
struct CostTests {
    @Test("all 6,561 NAS-Bench-Macro architectures reproduce the benchmark's params and flops exactly")
    func nasBenchMacroExact() throws {
        let s = try Spaces.load("nas-bench-macro")
        let text = try String(contentsOfFile: Paths.nasBenchMacroCSV, encoding: .utf8)
        var rows = 0, mismatches: [String] = []
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",")
            let c = try s.decode(benchmarkKey: String(f[0]))
            let r = NetworkGraph.build(compressed: c, in: s).cost()
            if r.params != Int(f[6])! || r.macs != Int(f[7])! {
                mismatches.append("\(f[0]): params \(r.params) vs \(f[6]), flops \(r.macs) vs \(f[7])")
            }
            rows += 1
        }
        #expect(rows == 6_561)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test("MobileNetV2 1.0 and MobileNetV3-Large 1.0 land within 2% of the published figures",
          arguments: [("mobilenetv2-1.0.yaml", 300e6, 3.47e6), ("mobilenetv3-large-1.0.yaml", 219e6, 5.4e6)])
    func publishedMobileNets(file: String, macs: Double, params: Double) throws {
        let s = try SearchSpace.load(path: Paths.fixture(file))
        #expect(s.count().intValue == 1)
        let c = s.sample(count: 1, seed: 0)[0]
        let g = NetworkGraph.build(compressed: c, in: s)
        #expect(g.problems().isEmpty)
        let r = g.cost()
        #expect(abs(Double(r.macs) / macs - 1) < 0.02, "MACs \(r.macs)")
        #expect(abs(Double(r.params) / params - 1) < 0.02, "params \(r.params)")
    }

    @Test("MobileNetV2 matches torchvision's parameter count exactly")
    func mobileNetV2Torchvision() throws {
        let s = try SearchSpace.load(path: Paths.fixture("mobilenetv2-1.0.yaml"))
        let r = NetworkGraph.build(compressed: s.sample(count: 1, seed: 0)[0], in: s).cost()
        #expect(r.params == 3_504_872)
    }

    @Test("NAS-Bench-201 follows the published cell and skeleton")
    func nasBench201Skeleton() throws {
        let s = try Spaces.load("nas-bench-201")
        let none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
        let conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        let gNone = NetworkGraph.build(compressed: try s.decode(benchmarkKey: none), in: s)
        let gConv = NetworkGraph.build(compressed: try s.decode(benchmarkKey: conv), in: s)
        #expect(gNone.problems().isEmpty && gConv.problems().isEmpty)
        // Stem, two reduction blocks, last BN and classifier: 73,306 parameters (0.0733 MB in the benchmark).
        #expect(gNone.cost().params == 73_306)
        // Each of the 15 cells adds six ReLU-conv3x3-BN edges: 1,531,546 (1.53 MB, the benchmark's largest).
        #expect(gConv.cost().params == 1_531_546)
        let convs = gConv.nodes.filter { if case .conv(let c) = $0.op { return c.kernel == 3 }; return false }
        #expect(convs.count == 1 + 15 * 6 + 2 * 2)
        #expect(gConv.nodes[gConv.output].shape == TensorShape(channels: 10, height: 1, width: 1))
        let shapes = Set(gConv.nodes.map(\.shape).filter { $0.channels == 64 }.map(\.height))
        #expect(shapes.contains(8))
    }

    @Test("every sampled candidate builds a sound graph, compressed or not", arguments: Spaces.names)
    func sampledGraphsAreSound(name: String) throws {
        let s = try Spaces.load(name)
        for c in s.sample(count: 200, seed: 9) {
            let plain = NetworkGraph.build(c, in: s)
            let g = plain.compressed(c.compression)
            #expect(plain.problems().isEmpty, "\(c.canonicalJSON): \(plain.problems())")
            #expect(g.problems().isEmpty, "\(c.canonicalJSON): \(g.problems())")
            let r = g.cost()
            #expect(r.macs > 0 && r.params > 0 && r.sizeBytes > 0 && r.peakActivationBytes > 0)
            #expect(r.layers.reduce(0) { $0 + $1.macs } == r.macs)
            #expect(r.layers.reduce(0) { $0 + $1.params } == r.params)
            #expect(g.nodes[g.output].shape.channels == s.classes)
            #expect(r.params <= plain.cost().params)
        }
    }

    func fashionCandidate(_ edit: (inout CompressionConfig) -> Void) throws -> (SearchSpace, Candidate, NetworkGraph) {
        let s = try Spaces.load("fashion-mobilenet")
        var rng = SeededGenerator(seed: 21)
        var c = s.sample(using: &rng)
        // A deep, wide candidate with expansion so every transform has work to do.
        var choices = c.choices
        for p in s.parameters where p.name.hasSuffix(".expansion") { if choices[p.name] != nil { choices[p.name] = .double(6) } }
        c = s.makeCandidate(choices)
        var cfg = CompressionConfig()
        edit(&cfg)
        return (s, c, NetworkGraph.build(c, in: s).compressed(cfg))
    }

    @Test("fused blocks: one dense k x k convolution, to the output (expansion 1, residual when the shape holds) or to the expanded width before squeeze-excite and the 1x1 projection")
    func fusedBlocks() throws {
        let yaml = """
            format: 1
            name: fused
            input: {channels: 1, size: 28}
            classes: 10
            network: mobilenet
            stem: {width: 8}
            stages:
              - {name: s1, stride: 2, depth: 2, width: 16, block: {type: fused, kernel: 3, expansion: 1}}
              - {name: s2, stride: 2, depth: 1, width: 24, block: {type: fused, kernel: 5, expansion: 2, se: true}}
            head: [{type: pool}, {type: linear}]
            """
        let s = try SearchSpace.parse(yaml: yaml, file: "fused.yaml")
        let g = NetworkGraph.build(s.sample(count: 1, seed: 0)[0], in: s)
        #expect(g.problems().isEmpty)
        let convs = g.nodes.compactMap { n -> (String, NetworkGraph.Conv)? in if case .conv(let c) = n.op { return (n.label.description, c) }; return nil }
        let byLabel = Dictionary(convs.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        // s1: 8 -> 16 with stride 2, then 16 -> 16 with a residual add; no 1x1 layers.
        #expect(byLabel["s1.b1.fused"].map { [$0.inChannels, $0.outChannels, $0.kernel, $0.stride, $0.groups] } == [8, 16, 3, 2, 1])
        #expect(byLabel["s1.b2.fused"].map { [$0.inChannels, $0.outChannels, $0.kernel, $0.stride] } == [16, 16, 3, 1])
        #expect(byLabel["s1.b1.project"] == nil && byLabel["s1.b1.dw"] == nil)
        #expect(g.nodes.filter { $0.label.description == "s1.b2.add" }.count == 1)
        #expect(g.nodes.filter { $0.label.description == "s1.b1.add" }.isEmpty)
        // s2: 16 -> 32 (expansion 2) as a dense 5x5 with stride 2, squeeze-excite on 32, 1x1 to 24.
        #expect(byLabel["s2.b1.fused"].map { [$0.inChannels, $0.outChannels, $0.kernel, $0.stride, $0.groups] } == [16, 32, 5, 2, 1])
        #expect(byLabel["s2.b1.project"].map { [$0.inChannels, $0.outChannels, $0.kernel] } == [32, 24, 1])
        #expect(g.nodes.contains { $0.label.description == "s2.b1.se" })
        // Parameters by hand: stem 72+16, s1 1152+32 and 2304+32, s2 12800+64, SE 32*8+8 + 8*32+32, project 768+48, linear 250.
        #expect(g.cost().params == 72 + 16 + 1152 + 32 + 2304 + 32 + 12800 + 64 + (256 + 8) + (256 + 32) + 768 + 48 + 250)
        // Channel pruning thins the expanded width only: the 5x5's outputs and what reads them.
        let pruned = g.channelPruned(0.5)
        #expect(pruned.problems().isEmpty)
        let p = pruned.nodes.compactMap { n -> (String, NetworkGraph.Conv)? in if case .conv(let c) = n.op { return (n.label.description, c) }; return nil }
        #expect(p.first { $0.0 == "s2.b1.fused" }?.1.outChannels == 16)
        #expect(p.first { $0.0 == "s2.b1.project" }?.1.inChannels == 16)
        #expect(p.first { $0.0 == "s1.b2.fused" }?.1.outChannels == 16)
    }

    @Test("50% channel pruning halves every prunable layer's channels")
    func channelPruning() throws {
        let (s, c, pruned) = try fashionCandidate { $0.pruning = .channel; $0.pruningRatio = 0.5 }
        let plain = NetworkGraph.build(c, in: s)
        let before = plain.nodes.compactMap { n -> Int? in if case .conv(let v) = n.op, n.prunable { return v.outChannels }; return nil }
        let after = pruned.nodes.compactMap { n -> Int? in if case .conv(let v) = n.op, n.prunable { return v.outChannels }; return nil }
        #expect(before.count == after.count && !before.isEmpty)
        for (b, a) in zip(before, after) { #expect(a == b - roundHalfEven(Double(b) / 2)) }
        #expect(pruned.problems().isEmpty)
        #expect(pruned.cost().macs < plain.cost().macs)
        #expect(NetworkGraph.keptChannels(7, ratio: 0.5) == 3)  // round half to even, as torch's pruning does
        #expect(NetworkGraph.keptChannels(1, ratio: 0.75) == 1)
    }

    @Test("magnitude sparsity zeroes the ratio of weights and stores a bitmap")
    func magnitudePruning() throws {
        let (s, c, sparse) = try fashionCandidate { $0.pruning = .magnitude; $0.pruningRatio = 0.75 }
        let dense = NetworkGraph.build(c, in: s).compressed(CompressionConfig())
        let r = sparse.cost(), d = dense.cost()
        let weights = sparse.nodes.reduce(0) { $0 + $1.weightCount }
        #expect(r.params == d.params)
        #expect(abs(Double(r.params - r.nonzeroParams) / Double(weights) - 0.75) < 0.001)
        #expect(r.sizeBytes < d.sizeBytes / 2)
        #expect(r.sparseMACs < r.macs / 3)
    }

    @Test("int8 weights make the model about 4x smaller than fp32")
    func int8Size() throws {
        let (s, c, q) = try fashionCandidate { $0.weightBits = 8; $0.activationBits = 8 }
        let fp = NetworkGraph.build(c, in: s).compressed(CompressionConfig())
        let ratio = Double(fp.cost().sizeBytes) / Double(q.cost().sizeBytes)
        #expect(ratio > 3.0 && ratio < 4.0, "ratio \(ratio)")
        #expect(q.cost().peakActivationBytes * 4 == fp.cost().peakActivationBytes)
    }

    @Test("low-rank factorization keeps the rank ratio of each factorized layer's weights")
    func lowRank() throws {
        let (s, c, f) = try fashionCandidate { $0.rankRatio = 0.5 }
        let plain = NetworkGraph.build(c, in: s)
        #expect(f.problems().isEmpty)
        #expect(f.nodes.count > plain.nodes.count)
        var factorized = 0
        for n in plain.nodes {
            guard case .conv(let conv) = n.op, conv.isPointwise else { continue }
            let k = NetworkGraph.factorRank(inputs: conv.inChannels, outputs: conv.outChannels, ratio: 0.5)
            if k < min(conv.inChannels, conv.outChannels) {
                factorized += 1
                let kept = Double(k * (conv.inChannels + conv.outChannels)) / Double(conv.weightCount)
                #expect(kept <= 0.5 && kept > 0.5 - Double(conv.inChannels + conv.outChannels) / Double(conv.weightCount))
            }
        }
        #expect(factorized > 3)
        #expect(f.cost().params < plain.cost().params)
        #expect(f.cost().macs < plain.cost().macs)
    }

    @Test("weight sharing stores cluster indices and a codebook")
    func weightSharing() throws {
        let (s, c, shared) = try fashionCandidate { $0.clusters = 16 }
        let plain = NetworkGraph.build(c, in: s).compressed(CompressionConfig())
        let weightLayers = shared.nodes.filter { $0.weightCount > 0 }
        let weights = weightLayers.reduce(0) { $0 + $1.weightCount }
        let expectedSavings = weights * 32 - (weights * 4 + weightLayers.count * 16 * 32)
        #expect(plain.cost().sizeBytes - shared.cost().sizeBytes == expectedSavings / 8 || abs(plain.cost().sizeBytes - shared.cost().sizeBytes - expectedSavings / 8) < weightLayers.count)
    }

    @Test("peak activation memory follows liveness, not the sum of all tensors")
    func peakMemory() throws {
        let s = try Spaces.load("nas-bench-macro")
        let g = NetworkGraph.build(try s.decode(benchmarkKey: "00000000"), in: s)
        // Input 3x32x32 and the stem's 32x32x32 output are alive together; BN and ReLU run in place.
        #expect(g.peakActivationElements() == 32 * 32 * 32 + 64 * 16 * 16)
        let all = g.nodes.reduce(0) { $0 + $1.shape.elements }
        #expect(g.peakActivationElements() < all)
    }
}
