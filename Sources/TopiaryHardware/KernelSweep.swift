import TopiaryCore

/// Which kernels a sweep measures, in which order (`topiary target profile`).
///
/// Two sources, fp32 and int8 each: the kernels of random candidates of the given
/// spaces (what searches will ask about), and a grid of the kernels networks are made of
/// — dense k×k convolutions (k 1/3/5/7, stride 1/2) over a grid of channels and
/// resolutions, depthwise, pointwise, grouped, pooling, element-wise add, squeeze-excite,
/// activations, linear — so that families no space has yet are covered too. Each
/// signature once. The order deals families round-robin (each family's kernels in a
/// seeded random order), so a sweep cut short by its time budget has measured every
/// family a little rather than a few families completely.
public enum KernelSweep {
    /// The overhead kernel: one ReLU on one value, timing the runtime's fixed cost.
    public static var overhead: NetworkGraph {
        let label = LayerLabel("k", .conv)
        let shape = TensorShape(channels: 1, height: 1, width: 1)
        return .assembled(nodes: [NetworkGraph.Node(op: .input, inputs: [], shape: shape, label: label),
                                  NetworkGraph.Node(op: .activation(.relu), inputs: [0], shape: shape, label: label)],
                          output: 1, activationBits: 32)
    }

    /// Probes of which neighbouring operators the runtime fuses: a 3x3 convolution with
    /// batch norm alone, with a ReLU, with a hard-swish, with a residual add after it, and
    /// the activation and the add alone, at three sizes, fp32 and int8. Their signatures
    /// start with `probe:`; `KernelProfile.fusion` reads them.
    public static func probes() -> [Kernel] {
        var out: [Kernel] = []
        for bits in [32, 8] {
            let precision = bits == 32 ? "fp32" : "int8"
            for (c, s) in [(16, 32), (32, 16), (64, 8)] {
                let conv = convGraph(cin: c, cout: c, size: s, kernel: 3, stride: 1, groups: 1, activation: .none, bits: bits)
                func probe(_ name: String, _ g: NetworkGraph, _ kind: OperationKind) -> Kernel {
                    Kernel(signature: "probe:\(name)|\(c)x\(s)x\(s)|\(precision)", family: "probe:\(name)|\(precision)", kind: kind, precision: precision,
                           macs: 0, inputElements: Double(c * s * s), outputElements: Double(c * s * s), weights: 0, graph: g)
                }
                var withAdd = conv
                withAdd.nodes.append(NetworkGraph.Node(op: .add, inputs: [2, 0], shape: shape(c, s), label: label))
                withAdd.output = withAdd.nodes.count - 1
                out += [probe("conv", conv, .conv),
                        probe("conv+relu", convGraph(cin: c, cout: c, size: s, kernel: 3, stride: 1, groups: 1, activation: .relu, bits: bits), .conv),
                        probe("conv+hswish", convGraph(cin: c, cout: c, size: s, kernel: 3, stride: 1, groups: 1, activation: .hswish, bits: bits), .conv),
                        probe("conv+add", withAdd, .conv),
                        probe("relu", elementwiseGraph(channels: c, size: s, bits: bits, op: .activation(.relu)), .elementwise),
                        probe("hswish", elementwiseGraph(channels: c, size: s, bits: bits, op: .activation(.hswish)), .elementwise),
                        probe("add", elementwiseGraph(channels: c, size: s, bits: bits, op: .add), .elementwise)]
            }
        }
        return out
    }

    /// The kernels to measure, in order.
    public static func plan(spaces: [SearchSpace], candidatesPerSpace: Int = 60, grid: Bool = true, seed: UInt64 = 1) -> [Kernel] {
        var seen = Set<String>()
        var byFamily: [String: [Kernel]] = [:]
        var familyOrder: [String] = []
        func add(_ k: Kernel) {
            guard seen.insert(k.signature).inserted else { return }
            if byFamily[k.family] == nil { familyOrder.append(k.family) }
            byFamily[k.family, default: []].append(k)
        }
        for space in spaces {
            for c in space.sample(count: candidatesPerSpace, seed: seed) {
                let g = NetworkGraph.build(compressed: c, in: space)
                for k in KernelExtractor.kernels(of: g, cost: g.cost()) { if let k { add(k) } }
            }
        }
        if grid {
            // A grid graph stands for a layer of a network at its activations' precision
            // (an add between int8 layers runs in int8 though it has no weights).
            for g in gridGraphs() {
                for k in KernelExtractor.kernels(of: g, cost: g.cost(), precision: g.activationBits <= 8 ? "int8" : "fp32") { if let k { add(k) } }
            }
        }
        var rng = SeededGenerator(seed: seed)
        for f in familyOrder { byFamily[f]!.shuffle(using: &rng) }
        // The fusion probes go first: a few dozen kernels, and every sweep should have them.
        var out: [Kernel] = probes()
        let total = out.count + seen.count
        var round = 0
        while out.count < total {
            for f in familyOrder where round < byFamily[f]!.count { out.append(byFamily[f]![round]) }
            round += 1
        }
        return out
    }

    /// Single-layer graphs over a grid of sizes, fp32 and int8.
    public static func gridGraphs() -> [NetworkGraph] {
        var out: [NetworkGraph] = []
        let channels = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256]
        let sizes = [7, 14, 28, 56, 112]
        for bits in [32, 8] {
            for size in sizes {
                for (i, cin) in channels.enumerated() {
                    let cout = channels[min(channels.count - 1, i + (size % 3))]
                    for k in [1, 3, 5, 7] {
                        for stride in [1, 2] where !(k == 1 && stride == 2) {
                            out.append(convGraph(cin: cin, cout: k == 1 ? cout : cin * (1 + (i % 2)), size: size, kernel: k, stride: stride, groups: 1,
                                                 activation: k == 3 ? .relu : .none, bits: bits))
                            out.append(convGraph(cin: cin, cout: cin, size: size, kernel: k, stride: stride, groups: cin,
                                                 activation: i % 2 == 0 ? .relu : .hswish, bits: bits))
                        }
                    }
                    if cin % 4 == 0 { out.append(convGraph(cin: cin, cout: cin, size: size, kernel: 3, stride: 1, groups: 4, activation: .relu, bits: bits)) }
                    out.append(elementwiseGraph(channels: cin, size: size, bits: bits, op: .add))
                    out.append(elementwiseGraph(channels: cin, size: size, bits: bits, op: .avgPool(kernel: 3, stride: 1, padding: 1)))
                    out.append(elementwiseGraph(channels: cin, size: size, bits: bits, op: .activation(.hswish)))
                    out.append(elementwiseGraph(channels: cin, size: size, bits: bits, op: .globalAvgPool))
                    out.append(squeezeExcite(channels: cin, size: size, bits: bits))
                }
            }
            for f in [64, 128, 256, 512, 1024, 1280] {
                for classes in [10, 100, 1000] { out.append(linearGraph(features: f, classes: classes, bits: bits)) }
            }
        }
        return out
    }

    static let label = LayerLabel("k", .conv)

    static func shape(_ c: Int, _ s: Int) -> TensorShape { TensorShape(channels: c, height: s, width: s) }

    static func convGraph(cin: Int, cout: Int, size: Int, kernel: Int, stride: Int, groups: Int, activation: Activation, bits: Int) -> NetworkGraph {
        let out = (size + 2 * (kernel / 2) - kernel) / stride + 1
        var conv = NetworkGraph.Node(op: .conv(.init(inChannels: cin, outChannels: cout, kernel: kernel, stride: stride, padding: kernel / 2,
                                                     groups: groups, bias: false)), inputs: [0], shape: shape(cout, out), label: label)
        conv.weights = NetworkGraph.WeightFormat(bits: bits, zeros: 0, clusters: 0, perChannel: true)
        var nodes = [NetworkGraph.Node(op: .input, inputs: [], shape: shape(cin, size), label: label), conv,
                     NetworkGraph.Node(op: .batchNorm, inputs: [1], shape: shape(cout, out), label: label)]
        if activation != .none { nodes.append(NetworkGraph.Node(op: .activation(activation), inputs: [2], shape: shape(cout, out), label: label)) }
        return .assembled(nodes: nodes, output: nodes.count - 1, activationBits: bits)
    }

    static func elementwiseGraph(channels: Int, size: Int, bits: Int, op: NetworkGraph.Op) -> NetworkGraph {
        let s = shape(channels, size)
        let outShape: TensorShape = op == .globalAvgPool ? shape(channels, 1) : s
        let inputs: NodeInputs = op == .add ? [0, 0] : [0]
        let nodes = [NetworkGraph.Node(op: .input, inputs: [], shape: s, label: label),
                     NetworkGraph.Node(op: op, inputs: inputs, shape: outShape, label: label)]
        return .assembled(nodes: nodes, output: 1, activationBits: bits)
    }

    static func squeezeExcite(channels: Int, size: Int, bits: Int) -> NetworkGraph {
        let mid = max(8, channels / 4)
        let se = LayerLabel("k", .se)
        func conv(_ i: Int, _ o: Int, _ input: Int) -> NetworkGraph.Node {
            var n = NetworkGraph.Node(op: .conv(.init(inChannels: i, outChannels: o, kernel: 1, stride: 1, padding: 0, groups: 1, bias: true)),
                                      inputs: [input], shape: shape(o, 1), label: se)
            n.weights = NetworkGraph.WeightFormat(bits: bits, zeros: 0, clusters: 0, perChannel: true)
            return n
        }
        let nodes = [NetworkGraph.Node(op: .input, inputs: [], shape: shape(channels, size), label: label),
                     NetworkGraph.Node(op: .globalAvgPool, inputs: [0], shape: shape(channels, 1), label: se),
                     conv(channels, mid, 1), NetworkGraph.Node(op: .activation(.relu), inputs: [2], shape: shape(mid, 1), label: se),
                     conv(mid, channels, 3), NetworkGraph.Node(op: .activation(.hsigmoid), inputs: [4], shape: shape(channels, 1), label: se),
                     NetworkGraph.Node(op: .multiply, inputs: [0, 5], shape: shape(channels, size), label: se)]
        return .assembled(nodes: nodes, output: nodes.count - 1, activationBits: bits)
    }

    static func linearGraph(features: Int, classes: Int, bits: Int) -> NetworkGraph {
        var lin = NetworkGraph.Node(op: .linear(.init(inFeatures: features, outFeatures: classes, bias: true)), inputs: [0],
                                    shape: shape(classes, 1), label: LayerLabel("k", .classifier))
        lin.weights = NetworkGraph.WeightFormat(bits: bits, zeros: 0, clusters: 0, perChannel: true)
        return .assembled(nodes: [NetworkGraph.Node(op: .input, inputs: [], shape: shape(features, 1), label: label), lin], output: 1, activationBits: bits)
    }
}
