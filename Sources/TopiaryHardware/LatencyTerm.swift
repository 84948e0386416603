/// One additive part of a latency prediction, whose coefficient calibration fits:
/// the compute time of one kind of operation at one precision, the per-layer overhead
/// of that kind, memory traffic (from cache or main memory), weights streamed into an
/// accelerator, changes of data layout between layers, conversions between integer and
/// float tensors in a quantized network, or the fixed cost of an inference.
///
/// Names are stable strings (`compute.depthwise.int8`, `overhead.conv.fp32`,
/// `memory.main`, `memory.cache`, `layout`, `layout.traffic`, `quantize`,
/// `quantize.traffic`, `stream`, `inference`) used in calibration files.
public struct LatencyTerm: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case compute, overhead, memory, layout, quantize, stream, inference
        /// A kernel timed alone passing its input and output tensors in and out of the
        /// runtime (a kernel sweep's measurements only; inside a network they stay there).
        case io
    }

    public var kind: Kind
    /// For compute and overhead terms: the operation kind.
    public var operation: OperationKind?
    /// For compute and overhead terms: the precision.
    public var precision: Precision?
    /// For compute terms: whether the layer runs the runtime's generic (unvectorized)
    /// kernel because its channels do not fit the vector width (`.generic` in the name).
    public var generic: Bool = false
    /// For memory terms: whether the traffic is served by the cache. For layout and
    /// quantize terms: whether this is the traffic of the conversion (else its fixed cost).
    public var cache: Bool

    init(_ kind: Kind, _ operation: OperationKind? = nil, _ precision: Precision? = nil, cache: Bool = false) {
        self.kind = kind
        self.operation = operation
        self.precision = precision
        self.cache = cache
    }

    public static func compute(_ op: OperationKind, _ p: Precision, generic: Bool = false) -> LatencyTerm {
        var t = LatencyTerm(.compute, op, p)
        t.generic = generic
        return t
    }
    public static func overhead(_ op: OperationKind, _ p: Precision) -> LatencyTerm { LatencyTerm(.overhead, op, p) }
    public static let mainMemory = LatencyTerm(.memory)
    public static let cacheMemory = LatencyTerm(.memory, cache: true)
    public static let stream = LatencyTerm(.stream)
    /// The fixed cost of converting a tensor between the plain and the blocked layout.
    public static let layout = LatencyTerm(.layout)
    /// The memory traffic of those conversions.
    public static let layoutTraffic = LatencyTerm(.layout, cache: true)
    /// The fixed cost of a quantize or dequantize operator in a quantized network.
    public static let quantize = LatencyTerm(.quantize)
    /// The memory traffic of those conversions.
    public static let quantizeTraffic = LatencyTerm(.quantize, cache: true)
    public static let inference = LatencyTerm(.inference)
    public static let io = LatencyTerm(.io)

    public var name: String {
        switch kind {
        case .compute, .overhead: return "\(kind.rawValue).\(operation!.rawValue).\(precision!.rawValue)" + (generic ? ".generic" : "")
        case .memory: return cache ? "memory.cache" : "memory.main"
        case .layout: return cache ? "layout.traffic" : "layout"
        case .quantize: return cache ? "quantize.traffic" : "quantize"
        case .stream, .inference, .io: return kind.rawValue
        }
    }

    public var description: String { name }

    /// The term a name stands for, or `nil` for an unknown name.
    public init?(name: String) {
        switch name {
        case "memory.main": self = .mainMemory
        case "memory.cache": self = .cacheMemory
        case "stream": self = .stream
        case "layout": self = .layout
        case "layout.traffic": self = .layoutTraffic
        case "quantize": self = .quantize
        case "quantize.traffic": self = .quantizeTraffic
        case "inference": self = .inference
        case "io": self = .io
        default:
            var parts = name.split(separator: ".").map(String.init)
            let generic = parts.count == 4 && parts[3] == "generic" && parts[0] == "compute"
            if generic { parts.removeLast() }
            guard parts.count == 3, let k = Kind(rawValue: parts[0]), k == .compute || k == .overhead,
                  let op = OperationKind(rawValue: parts[1]), let p = Precision(rawValue: parts[2]) else { return nil }
            self.init(k, op, p)
            self.generic = generic
        }
    }

    public static func < (a: LatencyTerm, b: LatencyTerm) -> Bool { a.name < b.name }
}

/// A term's share of a prediction, in milliseconds at coefficient 1.
public struct TermTime: Sendable, Equatable {
    public var term: LatencyTerm
    public var milliseconds: Double

    public init(_ term: LatencyTerm, _ milliseconds: Double) {
        self.term = term
        self.milliseconds = milliseconds
    }
}

/// Multipliers of the profile's term times. The uncalibrated profile has every
/// coefficient 1; calibration sets them from measurements. Terms that calibration did
/// not see take `defaultValue` (the common scale it found).
public struct Coefficients: Sendable, Equatable {
    public var values: [LatencyTerm: Double]
    public var defaultValue: Double

    public init(_ values: [LatencyTerm: Double] = [:], defaultValue: Double = 1) {
        self.values = values
        self.defaultValue = defaultValue
    }

    /// The profile as written.
    public static let identity = Coefficients()

    public subscript(_ term: LatencyTerm) -> Double {
        values[term] ?? defaultValue
    }
}
