import TopiaryCore

/// What a target's latency model predicts for one network: total and per-layer time,
/// energy, memory, and whether the network can run there at all.
public struct LatencyReport: Sendable {
    public var target: String
    /// Predicted milliseconds per inference (batch 1).
    public var milliseconds: Double
    /// The per-inference fixed cost and weight streaming, included in `milliseconds`.
    public var fixedMilliseconds: Double
    public var layers: [LayerLatency]
    /// Active power times time.
    public var energyMillijoules: Double
    /// Bytes of the stored model (compressed formats included), as the cost report counts.
    public var weightBytes: Int
    /// Bytes the weights take in memory at the precision they are computed in.
    public var runtimeWeightBytes: Int
    /// Peak activation memory at the precision the activations are computed in.
    public var peakActivationBytes: Int
    /// The widest precision any layer runs at.
    public var precision: Precision
    /// Why the network cannot run on the target; empty when it fits.
    public var problems: [Infeasibility]

    public var fits: Bool { problems.isEmpty }
}

/// One fused layer's predicted time.
public struct LayerLatency: Sendable {
    public var name: String
    public var kind: OperationKind
    public var precision: Precision
    public var macs: Int
    /// The work the target executes, in MACs: fewer than `macs` with sparse kernels,
    /// more where a blocked layout pads output channels or a generic kernel pays per row.
    public var effectiveMACs: Int
    /// Bytes read and written: activations in and out, and the weights.
    public var bytes: Int
    public var computeMilliseconds: Double
    public var memoryMilliseconds: Double
    public var overheadMilliseconds: Double
    /// Inputs converted between the plain and blocked data layouts, and their time.
    public var layoutConversions: Int
    public var layoutMilliseconds: Double
    /// Activations that run in float inside a quantized layer, and the time of their
    /// dequantize, float operator and quantize.
    public var floatActivations: Int = 0
    public var quantizeMilliseconds: Double = 0
    /// max(compute, memory) (their sum on a target without overlap) + overhead + layout
    /// and quantize conversions.
    public var milliseconds: Double
    public var computeBound: Bool
    /// Whether compute and memory traffic overlap on the target (else the layer takes
    /// their sum and `computeBound` is true).
    public var overlapped: Bool = true
    /// "compute" or "memory", whichever bounds the layer, or "sum" without overlap.
    public var bound: String { !overlapped ? "sum" : computeBound ? "compute" : "memory" }
    /// Index of the layer in the cost report (and the range of graph nodes it fuses).
    public var nodes: Range<Int>
}

/// A reason a network does not fit a target.
public enum Infeasibility: Sendable, Equatable, CustomStringConvertible {
    /// A layer needs a precision at least `neededBits` wide and the target has none.
    case precisionUnsupported(layer: String, neededBits: Int, supported: [Precision])
    /// The stored weights exceed the non-volatile storage (flash).
    case weightsExceedStorage(bytes: Int, capacity: Int)
    /// The peak activations exceed the activation memory (SRAM).
    case activationsExceedMemory(bytes: Int, capacity: Int)
    /// Weights and activations together exceed the run-time memory.
    case workingSetExceedsMemory(bytes: Int, capacity: Int)

    public var description: String {
        switch self {
        case let .precisionUnsupported(layer, bits, supported):
            return "layer \(layer) computes at \(bits) bits but the target runs only \(supported.map(\.rawValue).joined(separator: ", "))"
        case let .weightsExceedStorage(b, cap):
            return "weights need \(Self.size(b)) but weight storage (flash) holds \(Self.size(cap))"
        case let .activationsExceedMemory(b, cap):
            return "peak activations need \(Self.size(b)) but activation memory (SRAM) holds \(Self.size(cap))"
        case let .workingSetExceedsMemory(b, cap):
            return "weights and activations need \(Self.size(b)) but memory holds \(Self.size(cap))"
        }
    }

    static func size(_ n: Int) -> String {
        let d = Double(n)
        func f(_ x: Double) -> String { String((x * 100).rounded() / 100) }
        if d >= 1_073_741_824 { return "\(f(d / 1_073_741_824)) GiB (\(n) B)" }
        if d >= 1_048_576 { return "\(f(d / 1_048_576)) MiB (\(n) B)" }
        if d >= 1024 { return "\(f(d / 1024)) KiB (\(n) B)" }
        return "\(n) B"
    }
}
