/// The network family a space describes and its fixed structure. Every field that may
/// vary is named by a parameter (see `SearchSpace.parameters`); the spec holds the names.
public enum NetworkSpec: Sendable {
    /// MobileNetV2/V3-style macro network: stem, stages of inverted-residual blocks, head.
    case mobilenet(MobileNetSpec)
    /// NAS-Bench-201-style cell network: one searched cell repeated in three stages.
    case cell(CellSpec)
}

/// A field of an inverted-residual block that a space can fix or search.
public enum BlockField: String, Sendable, CaseIterable {
    case type, kernel, expansion, se, activation
}

public enum Activation: String, Sendable, CaseIterable {
    case relu, relu6, hswish, hsigmoid, sigmoid, swish, none
}

public struct MobileNetSpec: Sendable {
    /// Channels are rounded to a multiple of this after the width multiplier (8 in
    /// MobileNetV2/V3; 1 leaves them as written).
    public var channelDivisor: Int
    public var widthMultiplier: String
    public var stem: Stem
    public var stages: [Stage]
    public var head: [HeadLayer]

    public struct Stem: Sendable {
        public var kernel: Int
        public var stride: Int
        public var width: String
        public var activation: Activation
    }

    public struct Stage: Sendable {
        public var name: String
        public var stride: Int
        public var depth: String
        public var maxDepth: Int
        public var width: String
        /// Parameter names per block, for blocks 1...maxDepth.
        public var blocks: [BlockParameters]
        /// Named block variants (`op` choices), each a set of fixed block fields.
        public var variants: [String: [String: ChoiceValue]]
    }

    /// The parameters that set one block: the variant (`op`) and the single fields.
    public struct BlockParameters: Sendable {
        public var op: String?
        public var fields: [(BlockField, String)] = []
    }

    public enum HeadLayer: Sendable {
        case conv(width: String, activation: Activation, batchNorm: Bool, bias: Bool)
        case pool
        /// A linear layer; `width` nil means the classifier (to `classes`).
        case linear(width: String?, activation: Activation, bias: Bool)
    }
}

public struct CellSpec: Sendable {
    /// The operations an edge may take, by NAS-Bench-201 name.
    public enum Op: String, Sendable, CaseIterable {
        case none
        case skipConnect = "skip_connect"
        case conv1x1 = "nor_conv_1x1"
        case conv3x3 = "nor_conv_3x3"
        case avgPool3x3 = "avg_pool_3x3"
    }

    public var nodes: Int
    public var stemWidth: Int
    /// Width and number of cells per stage; stages after the first begin with a residual
    /// reduction block (stride 2).
    public var stages: [(width: Int, cells: Int)]
    /// Parameter name of edge j <- i, for 1 <= j < nodes, 0 <= i < j, in benchmark order.
    public var edges: [(to: Int, from: Int, parameter: String)]

    public static func edgeName(to j: Int, from i: Int) -> String { "cell.\(j)<-\(i)" }
}
