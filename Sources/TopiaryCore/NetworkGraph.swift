/// A typed DAG of tensor operations with the shape of every output, in topological
/// (execution) order. Built from any candidate of any space (`NetworkGraph.build`),
/// then compressed (`compressed(_:)`) and costed (`cost()`).
public struct NetworkGraph: Sendable {
    public var nodes: [Node]
    /// Index of the node whose output is the network's output (the logits).
    public var output: Int
    /// Bits per stored activation (32 unless quantized).
    public var activationBits: Int = 32

    public struct Node: Sendable {
        public var op: Op
        public var inputs: NodeInputs
        public var shape: TensorShape
        public var label: LayerLabel
        /// How the node's weights are stored, for conv and linear nodes.
        public var weights: WeightFormat?
        /// Whether structured pruning may remove output channels of this conv.
        public var prunable: Bool = false
        /// For a conv whose output channels must equal another node's (the
        /// squeeze-excite expand layer): that node's index.
        public var channelsFollow: Int?
    }

    public enum Op: Sendable, Equatable {
        case input
        case conv(Conv)
        case batchNorm
        case activation(Activation)
        /// Element-wise sum of all inputs.
        case add
        /// Element-wise product of a tensor and a per-channel gate (squeeze-excite).
        case multiply
        case globalAvgPool
        case avgPool(kernel: Int, stride: Int, padding: Int)
        case linear(Linear)
        case identity
        /// A tensor of zeros (NAS-Bench-201's `none` edge).
        case zero
    }

    public struct Conv: Sendable, Equatable {
        public var inChannels: Int
        public var outChannels: Int
        public var kernel: Int
        public var stride: Int
        public var padding: Int
        public var groups: Int
        public var bias: Bool

        public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int, bias: Bool) {
            self.inChannels = inChannels
            self.outChannels = outChannels
            self.kernel = kernel
            self.stride = stride
            self.padding = padding
            self.groups = groups
            self.bias = bias
        }

        public var isDepthwise: Bool { groups > 1 && groups == inChannels && groups == outChannels }
        public var isPointwise: Bool { kernel == 1 && groups == 1 }
        public var weightCount: Int { outChannels * (inChannels / groups) * kernel * kernel }
    }

    public struct Linear: Sendable, Equatable {
        public var inFeatures: Int
        public var outFeatures: Int
        public var bias: Bool

        public init(inFeatures: Int, outFeatures: Int, bias: Bool) {
            self.inFeatures = inFeatures
            self.outFeatures = outFeatures
            self.bias = bias
        }
    }

    /// How a layer's weights are stored after compression.
    public struct WeightFormat: Sendable, Equatable {
        public var bits: Int = 32
        /// Number of weights set to zero by magnitude pruning.
        public var zeros: Int = 0
        /// Weight-sharing clusters (0 = none).
        public var clusters: Int = 0
        public var perChannel: Bool = true

        public init(bits: Int = 32, zeros: Int = 0, clusters: Int = 0, perChannel: Bool = true) {
            self.bits = bits
            self.zeros = zeros
            self.clusters = clusters
            self.perChannel = perChannel
        }
    }

    /// Kinds of operation that a latency model treats differently.
    public enum Category: String, Sendable, CaseIterable {
        case conv, depthwise, pointwise, linear, pooling, elementwise, normalization, none
    }
}

/// Where a node sits in the network, e.g. stage `s2`, block 1, part `dw`; rendered as
/// `s2.b1.dw`. Kept as a small value so building a graph allocates no strings.
public struct LayerLabel: Sendable, Hashable, CustomStringConvertible {
    public enum Part: String, Sendable {
        case input, stem, expand, fused, dw, se, project, shortcut, add, conv, pool, classifier, reduceA = "reduce.a", reduceB = "reduce.b", edge, node, lastact, factor
    }

    public var scope: String
    public var block: Int
    public var part: Part
    public var index: Int

    public init(_ scope: String, block: Int = 0, _ part: Part, index: Int = -1) {
        self.scope = scope
        self.block = block
        self.part = part
        self.index = index
    }

    public var description: String {
        var s = scope
        if block > 0 { s += ".b\(block)" }
        if part.rawValue != scope { s += "." + part.rawValue }
        if index >= 0 { s += "\(index)" }
        return s
    }
}

extension NetworkGraph.Node {
    public var category: NetworkGraph.Category {
        switch op {
        case .conv(let c): return c.isDepthwise ? .depthwise : (c.isPointwise ? .pointwise : .conv)
        case .linear: return .linear
        case .globalAvgPool, .avgPool: return .pooling
        case .add, .multiply, .activation: return .elementwise
        case .batchNorm: return .normalization
        case .input, .identity, .zero: return .none
        }
    }

    /// Multiply-accumulates of the dense operation (convolutions and linear layers only,
    /// the convention of MobileNet papers and NAS benchmarks).
    public var macs: Int {
        switch op {
        case .conv(let c): return c.weightCount * shape.height * shape.width
        case .linear(let l): return l.inFeatures * l.outFeatures
        default: return 0
        }
    }

    /// Learnable parameters: weights, biases, and batch-norm scale and shift.
    public var params: Int {
        switch op {
        case .conv(let c): return c.weightCount + (c.bias ? c.outChannels : 0)
        case .linear(let l): return l.inFeatures * l.outFeatures + (l.bias ? l.outFeatures : 0)
        case .batchNorm: return 2 * shape.channels
        default: return 0
        }
    }

    /// Number of weights (not biases or batch-norm parameters).
    public var weightCount: Int {
        switch op {
        case .conv(let c): return c.weightCount
        case .linear(let l): return l.inFeatures * l.outFeatures
        default: return 0
        }
    }

    public var outputChannelsOfWeights: Int {
        switch op {
        case .conv(let c): return c.outChannels
        case .linear(let l): return l.outFeatures
        default: return 0
        }
    }
}

// Public initializers for graphs built outside this module (a kernel cut out of a
// network, `KernelExtractor`); in extensions so the memberwise ones stay.
extension NetworkGraph {
    public static func assembled(nodes: [Node], output: Int, activationBits: Int) -> NetworkGraph {
        NetworkGraph(nodes: nodes, output: output, activationBits: activationBits)
    }
}

extension NetworkGraph.Node {
    public init(op: NetworkGraph.Op, inputs: NodeInputs, shape: TensorShape, label: LayerLabel) {
        self.init(op: op, inputs: inputs, shape: shape, label: label, weights: nil, prunable: false, channelsFollow: nil)
    }
}

