import TopiaryCore

/// A numeric format a target computes in. Ordered by width, narrowest first.
public enum Precision: String, CaseIterable, Sendable, Comparable, Codable {
    case int4, int8, fp16, fp32

    /// Bits per value.
    /// Whether values are integers (a quantized precision).
    public var isInteger: Bool { self == .int4 || self == .int8 }

    public var bits: Int {
        switch self {
        case .int4: return 4
        case .int8: return 8
        case .fp16: return 16
        case .fp32: return 32
        }
    }

    public static func < (a: Precision, b: Precision) -> Bool { a.bits < b.bits }
}

/// The kinds of operation whose speed a target profile states separately.
public enum OperationKind: String, CaseIterable, Sendable, Codable {
    case conv, depthwise, pointwise, linear, pooling, elementwise

    /// The kind a layer of the cost report runs as; `nil` for layers that cost nothing
    /// (the input, identities). Batch norm that is not folded into a convolution runs as
    /// an element-wise operation.
    public init?(_ category: NetworkGraph.Category) {
        switch category {
        case .conv: self = .conv
        case .depthwise: self = .depthwise
        case .pointwise: self = .pointwise
        case .linear: self = .linear
        case .pooling: self = .pooling
        case .elementwise, .normalization: self = .elementwise
        case .none: return nil
        }
    }

    /// Whether the kind multiplies by weights (sparse kernels can only help these).
    public var hasWeights: Bool { self == .conv || self == .depthwise || self == .pointwise || self == .linear }
}
